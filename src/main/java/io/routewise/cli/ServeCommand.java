package io.routewise.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code routewise serve}: starts the proxy. */
@Command(name = "serve", mixinStandardHelpOptions = true, description = "Run the routing proxy.")
public final class ServeCommand implements Callable<Integer> {
  @Option(names = "--config", description = "Config file (default: ${DEFAULT-VALUE}).", defaultValue = "config.yaml")
  Path config;

  @Option(names = "--port", description = "Overrides server.port.")
  Integer port;

  @Override
  public Integer call() {
    throw new UnsupportedOperationException("wired in the next commit");
  }
}
