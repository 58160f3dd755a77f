package io.routewise;

import io.routewise.cli.CalibrateCommand;
import io.routewise.cli.DistillCommand;
import io.routewise.cli.EvalCommand;
import io.routewise.cli.LatencyCommand;
import io.routewise.cli.ReplayCommand;
import io.routewise.cli.ScoreCommand;
import io.routewise.cli.ServeCommand;
import io.routewise.cli.TrainCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Wiring only: picks the subcommand. */
@Command(
    name = "routewise",
    mixinStandardHelpOptions = true,
    version = "routewise 0.1.0",
    description = "OpenAI-compatible proxy that routes each chat request to a strong or a weak model.",
    subcommands = {
        ServeCommand.class,
        ScoreCommand.class,
        CalibrateCommand.class,
        EvalCommand.class,
        TrainCommand.class,
        DistillCommand.class,
        LatencyCommand.class,
        ReplayCommand.class,
    })
public final class Main implements Runnable {

  public static void main(String[] args) {
    System.exit(new CommandLine(new Main())
        // Bad config, a missing or corrupt model directory, an unreadable file: one clear line, no stack trace.
        .setExecutionExceptionHandler((e, cmd, parsed) -> {
          if (e instanceof io.routewise.config.ConfigException || e instanceof java.io.IOException
              || e instanceof IllegalArgumentException) {
            String what = e instanceof java.nio.file.NoSuchFileException ? "no such file: " + e.getMessage() : e.getMessage();
            cmd.getErr().println("routewise " + cmd.getCommandName() + ": " + what);
            return 2;
          }
          throw e;
        })
        .execute(args));
  }

  @Override
  public void run() {
    new CommandLine(this).usage(System.out);
  }
}
