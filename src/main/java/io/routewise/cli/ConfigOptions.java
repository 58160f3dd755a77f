package io.routewise.cli;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The config file and port of a start, the same for {@code serve} and {@code check}. */
final class ConfigOptions {
  @Option(names = "--config", description = "Config file (default: ${DEFAULT-VALUE}).", defaultValue = "config.yaml")
  Path config;

  @Option(names = "--port", description = "Overrides server.port.")
  Integer port;
}
