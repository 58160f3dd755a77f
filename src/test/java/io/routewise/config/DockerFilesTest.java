package io.routewise.config;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

/** docker/ agrees with the shipped config and the README (no docker daemon needed: read, not built). */
class DockerFilesTest {
  @Test
  void composePassesOnEveryVariableTheShippedConfigReads() throws Exception {
    Set<String> read = new TreeSet<>();
    String config = Files.readString(Path.of("config.yaml")).replaceAll("(?m)(^|\\s)#.*$", ""); // not the comments' examples
    Matcher m = Pattern.compile("\\$\\{([A-Za-z_][A-Za-z0-9_]*)").matcher(config);
    while (m.find()) {
      read.add(m.group(1));
    }
    read.remove("ROUTEWISE_PORT"); // compose publishes 6060; the port is the image's, not the shell's
    @SuppressWarnings("unchecked")
    Map<String, Object> compose = new Yaml().load(Files.readString(Path.of("docker/compose.yaml")));
    @SuppressWarnings("unchecked")
    Map<String, Object> service = (Map<String, Object>) ((Map<String, Object>) compose.get("services")).get("routewise");
    @SuppressWarnings("unchecked")
    Set<String> passed = ((Map<String, Object>) service.get("environment")).keySet();
    Set<String> missing = new TreeSet<>(read);
    missing.removeAll(passed);
    // README: "the environment can change ... without editing the file"; ROUTER=length up was ignored (review)
    assertTrue(missing.isEmpty(), "config.yaml reads " + missing + ", which docker/compose.yaml does not pass on");
  }

  @Test
  void theImagesJvmFlagsSurviveAUsersJavaToolOptions() throws Exception {
    String dockerfile = Files.readString(Path.of("docker/Dockerfile"));
    assertFalse(dockerfile.contains("JAVA_TOOL_OPTIONS="), "README sends users' flags there: it would replace the heap size");
    assertTrue(dockerfile.contains("JDK_JAVA_OPTIONS=\"-XX:MaxRAMPercentage=75"), dockerfile);
    assertTrue(dockerfile.contains("/dev/tcp/127.0.0.1/${ROUTEWISE_PORT:-6060}"), "the health check follows the port");
  }
}
