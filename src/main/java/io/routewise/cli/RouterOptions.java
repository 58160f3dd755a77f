package io.routewise.cli;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Options shared by the commands that load routers. */
final class RouterOptions {
  @Option(names = "--config", description = "Config file whose routers:/embedding: settings apply (optional).")
  Path config;

  @Option(names = "--models-dir", description = "Directory of trained routers (default: the config's models_dir, else models).")
  Path modelsDir;

  @Option(names = "--embedding-cache", description = "Keep prompt embeddings in this directory across runs (offline use only).")
  Path embeddingCache;

  @Option(names = "--embedding-model", description = "The embedding the routers use (default: the config's embedding.model, "
      + "else " + io.routewise.embedding.EmbeddingSettings.DEFAULT_MODEL + "): a static table under the models directory or a sentence model.")
  String embeddingModel;
}
