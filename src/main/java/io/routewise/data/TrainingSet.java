package io.routewise.data;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.routewise.embedding.Embedder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * What a trainer gets: the dataset, one embedding per prompt, and the split into training and
 * held-out prompts.
 */
public record TrainingSet(Dataset data, float[][] embeddings, List<Integer> train, List<Integer> heldOut,
    ArrayNode files) {

  /** Reads {@code files}, splits them by {@code holdout}, embeds every prompt (with a progress bar). */
  public static TrainingSet load(List<Path> files, Holdout holdout, long seed, Embedder embedder, boolean progress)
      throws IOException {
    Dataset data = DatasetReader.read(files);
    List<Integer> held = holdout.heldOut(data, seed);
    Set<Integer> heldSet = data.withCopies(held); // a held-out question's copies elsewhere do not train either
    List<Integer> train = new ArrayList<>();
    for (int i = 0; i < data.size(); i++) {
      // serve scores no prompt without text (it goes to the top): what models win on "" teaches nothing
      if (!heldSet.contains(i) && data.prompts().get(i).hasText()) {
        train.add(i);
      }
    }
    float[][] emb = new float[data.size()][];
    try (ProgressBar pb = progressBar("embed", data.size(), progress)) {
      for (int i = 0; i < data.size(); i++) {
        emb[i] = embedder.embed(data.prompts().get(i).prompt());
        pb.step();
      }
    }
    ArrayNode fileInfo = JsonNodeFactory.instance.arrayNode();
    for (Path f : files) {
      ObjectNode o = fileInfo.addObject();
      o.put("file", f.getFileName().toString());
      o.put("sha256", sha256(f));
      o.put("bytes", Files.size(f));
    }
    return new TrainingSet(data, emb, List.copyOf(train), List.copyOf(held), fileInfo);
  }

  public static ProgressBar progressBar(String task, long max, boolean visible) {
    ProgressBarBuilder b = new ProgressBarBuilder().setTaskName(task).setInitialMax(max)
        .setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(500);
    if (!visible) {
      b.setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(
          new java.io.PrintStream(java.io.OutputStream.nullOutputStream())));
    }
    return b.build();
  }

  static String sha256(Path file) throws IOException {
    try {
      MessageDigest d = MessageDigest.getInstance("SHA-256");
      d.update(Files.readAllBytes(file));
      return HexFormat.of().formatHex(d.digest());
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
