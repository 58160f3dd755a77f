package io.routewise.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.routewise.data.DatasetReader;
import io.routewise.data.PromptRecord;
import io.routewise.routing.Prompt;
import io.routewise.routing.Router;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import me.tongfei.progressbar.ProgressBar;

/** Reading prompt files and scoring them with a router, shared by score, calibrate and eval. */
final class PromptFiles {
  static final ObjectMapper JSON = new ObjectMapper();

  private PromptFiles() {}

  static List<PromptRecord> read(Path file) throws IOException {
    List<PromptRecord> r = DatasetReader.readPrompts(file);
    if (r.isEmpty()) {
      throw new IOException(file + ": no prompts");
    }
    return r;
  }

  /** Scores every prompt (in order) with a progress bar on stderr. A router failure stops the command. */
  static double[] score(Router router, String label, List<PromptRecord> prompts, boolean progress) throws Exception {
    double[] out = new double[prompts.size()];
    try (ProgressBar pb = io.routewise.data.TrainingSet.progressBar("score " + label, prompts.size(), progress)) {
      for (int i = 0; i < out.length; i++) {
        out[i] = router.strongWinRate(Prompt.of(prompts.get(i).prompt()));
        pb.step();
      }
    }
    return out;
  }
}
