package io.routewise.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * DNS rebinding in a real headless Chromium ({@code docs/bench/rebinding_trial.py}): a page whose name
 * was pointed at a keyless routewise reads nothing of {@code /v1/*}, by fetch, XHR, frames, a worker or
 * a frame led in through another site's redirect, over plain HTTP (no Origin, no Sec-Fetch-*) and with
 * Sec-Fetch-* (a trial found both leaking). Runs where Chromium is installed ({@code .ci/run} installs
 * Debian's; {@code CHROMIUM} names another).
 */
class RebindingBrowserTest {
  static String chromium() {
    String configured = System.getenv("CHROMIUM");
    if (configured != null && !configured.isBlank()) {
      return configured;
    }
    return onPath("chromium") ? "chromium" : onPath("chromium-browser") ? "chromium-browser" : null;
  }

  private static boolean onPath(String name) {
    for (String dir : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
      if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, name))) {
        return true;
      }
    }
    return false;
  }

  @ParameterizedTest
  @ValueSource(strings = {"http", "secure"})
  void aReboundPageReadsNothing(String mode, @org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
    Path log = dir.resolve("trial.log");
    String chromium = chromium();
    assumeTrue(chromium != null, "no chromium: install Debian's chromium (.ci/run does) or set CHROMIUM");
    assumeTrue(onPath("python3"), "no python3 (.ci/run installs it)");
    String java = ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    Process p = new ProcessBuilder("python3", "docs/bench/rebinding_trial.py", "--classpath",
        System.getProperty("java.class.path"), "--java", java, "--chromium", chromium, "--mode", mode, "--port", "0")
        .redirectErrorStream(true).redirectOutput(log.toFile()).start();
    // its own waits add up to about 200 s at worst (routewise's start, the page, the attempts, the clean-up)
    boolean ended = p.waitFor(300, TimeUnit.SECONDS);
    if (!ended) {
      p.destroy(); // the script stops what it started on SIGTERM
      if (!p.waitFor(30, TimeUnit.SECONDS)) {
        p.destroyForcibly().waitFor();
      }
    }
    String out = Files.readString(log);
    assertTrue(ended, "the trial ran past 300 s:\n" + out);
    assertEquals(0, p.exitValue(), out);
    assertTrue(out.contains("held: 0 of 9"), out);
  }
}
