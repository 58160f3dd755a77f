package io.routewise;

import io.routewise.cli.CalibrateCommand;
import io.routewise.cli.CheckCommand;
import io.routewise.cli.DistillCommand;
import io.routewise.cli.EvalCommand;
import io.routewise.cli.LabelCommand;
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
    description = "OpenAI-compatible proxy that routes each chat request to one of several upstream models (strong, weak,"
        + " and any priced in between), chosen per prompt by a router.",
    subcommands = {
        ServeCommand.class,
        CheckCommand.class,
        ScoreCommand.class,
        CalibrateCommand.class,
        EvalCommand.class,
        LabelCommand.class,
        TrainCommand.class,
        DistillCommand.class,
        LatencyCommand.class,
        ReplayCommand.class,
    })
public final class Main implements Runnable {

  public static void main(String[] args) {
    System.exit(commandLine().execute(args));
  }

  /**
   * The command line with its error handling: bad config, a missing or corrupt model directory or
   * table, an unreadable file give one clear line and exit code 2, no stack trace.
   */
  public static CommandLine commandLine() {
    return new CommandLine(new Main()).setExecutionExceptionHandler((e, cmd, parsed) -> {
      // A table or tokenizer read lazily, inside a lookup, arrives wrapped; its message names the file.
      Exception problem = e instanceof java.io.UncheckedIOException u ? u.getCause() : e;
      if (problem instanceof io.routewise.config.ConfigException || problem instanceof java.io.IOException
          || problem instanceof IllegalArgumentException) {
        // A wrapper's own message when it has one (it may say what was being read), else the cause's.
        String message = problem != e && java.util.Objects.equals(e.getMessage(), problem.toString())
            ? problem.getMessage() : e.getMessage();
        String what = problem instanceof java.nio.file.NoSuchFileException ? "no such file: " + problem.getMessage()
            : problem instanceof java.nio.file.FileSystemException fs && problem == e ? fileProblem(fs)
            : message;
        java.nio.file.Path config = problem instanceof io.routewise.config.ConfigException ? configOf(parsed) : null;
        if (config != null) { // the file it is in, as serve and check say it
          what = ((io.routewise.config.ConfigException) problem).messageIn(config.toString());
        }
        cmd.getErr().println(cmd.getCommandSpec().qualifiedName() + ": " + what);
        return 2;
      }
      throw e;
    });
  }

  /** The --config the command was given (null: none). */
  private static java.nio.file.Path configOf(CommandLine.ParseResult parsed) {
    CommandLine.ParseResult r = parsed;
    while (r.hasSubcommand()) {
      r = r.subcommand();
    }
    return r.hasMatchedOption("--config") ? r.matchedOptionValue("--config", null) : null;
  }

  /**
   * A file system error as one line: its message is often the bare path (a file where a directory
   * was to be made), which says nothing of what went wrong.
   */
  private static String fileProblem(java.nio.file.FileSystemException e) {
    String reason = e.getReason() != null ? e.getReason()
        : e instanceof java.nio.file.FileAlreadyExistsException ? "a file is in the way"
        : e instanceof java.nio.file.AccessDeniedException ? "permission denied"
        : e instanceof java.nio.file.NotDirectoryException ? "not a directory"
        : e instanceof java.nio.file.DirectoryNotEmptyException ? "a directory that is not empty is in the way"
        : e.getClass().getSimpleName();
    return "cannot use " + e.getFile() + (e.getOtherFile() == null ? "" : " (" + e.getOtherFile() + ")") + ": " + reason;
  }

  @Override
  public void run() {
    new CommandLine(this).usage(System.out);
  }
}
