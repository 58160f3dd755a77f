package io.routewise.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.routewise.Main;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The README's command lines are ones the jar takes: every flag exists on the command it is given to, with the default said. */
class ReadmeCommandsTest {
  /** Each {@code java -jar target/routewise.jar ...} of the README, continued lines joined, less its comment. */
  static List<List<String>> readmeCommands() throws Exception {
    String readme = Files.readString(Path.of("README.md")).replace("\\\n", " ");
    List<List<String>> out = new ArrayList<>();
    String jar = "java -jar target/routewise.jar ";
    for (String line : readme.split("\n")) {
      int at = line.indexOf(jar);
      if (at < 0) {
        continue;
      }
      String command = line.substring(at + jar.length()).replaceFirst("`.*$", "").replaceFirst("\\s+#.*$", "").strip();
      List<String> args = new ArrayList<>();
      for (String word : command.split("\\s+")) {
        args.add(word.replaceAll("^'|'$", ""));
      }
      out.add(args);
    }
    return out;
  }

  @Test
  void everyCommandTheReadmeShowsParses() throws Exception {
    List<List<String>> commands = readmeCommands();
    assertTrue(commands.size() >= 15, "commands found: " + commands);
    for (List<String> args : commands) {
      try {
        Main.commandLine().parseArgs(args.toArray(String[]::new));
      } catch (CommandLine.ParameterException e) {
        throw new AssertionError("README: routewise " + String.join(" ", args) + ": " + e.getMessage(), e);
      }
    }
  }

  @Test
  void theDefaultsTheReadmeStatesAreTheOptionsDefaults() {
    CommandLine cli = Main.commandLine();
    // command path, option, the default README states for it
    String[][] stated = {
        {"calibrate", "--output-tokens", "300"}, {"eval", "--output-tokens", "300"}, {"eval", "--rule", "auto"},
        {"eval", "--folds", "5"}, {"train mf", "--anchor", "0.01"}, {"label", "--max-prompt-chars", "200000"},
        {"distill", "--dim", "256"}, {"distill", "--max-tokens", "126"}, {"serve", "--config", "config.yaml"},
        {"check", "--config", "config.yaml"}};
    for (String[] s : stated) {
      CommandLine c = cli;
      for (String name : s[0].split(" ")) {
        c = c.getSubcommands().get(name);
      }
      CommandLine.Model.OptionSpec option = c.getCommandSpec().findOption(s[1]);
      assertEquals(s[2], option == null ? null : option.defaultValue(), s[0] + " " + s[1]);
    }
  }

  @Test
  void sourcingJdkShWhereNoJdkIsFoundLeavesTheShellRunning() throws Exception {
    // README: ". .ci/jdk.sh puts the one the scripts find there, for this shell". Where it finds none (a
    // machine on Java 17, what it is for), it must say so and fail the source, not exit the user's shell.
    // None is found here by leaving out of PATH the tools it reads each JDK's version with.
    ProcessBuilder pb = new ProcessBuilder("/bin/bash", "-c", ". .ci/jdk.sh; echo \"shell still here ($?)\"")
        .redirectErrorStream(true);
    pb.environment().clear();
    pb.environment().put("PATH", "/nonexistent");
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    p.waitFor();
    assertTrue(out.contains("none found"), out);
    assertTrue(out.contains("shell still here (1)"), "sourcing .ci/jdk.sh exited the shell:\n" + out);
  }
}
