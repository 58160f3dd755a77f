package io.routewise.cli;

import io.routewise.data.PromptRecord;
import io.routewise.embedding.EmbeddingModel;
import io.routewise.embedding.WordPieceTokenizer;
import io.routewise.routing.Ladder;
import java.util.List;
import java.util.Optional;
import picocli.CommandLine.Option;

/**
 * How {@code eval --prices} and {@code calibrate} price a prompt on a ladder: the assumed answer
 * length and the tokenizer that counts its input ({@link PromptFiles#costs}). One definition, so the
 * two commands state the same dollars for the same flags.
 */
final class CostOptions {
  @Option(names = "--output-tokens", defaultValue = "300",
      description = "With prices: the assumed length of every answer in tokens, any model (default ${DEFAULT-VALUE}).")
  int outputTokens;

  @Option(names = "--token-model", defaultValue = "all-minilm-l6-v2-q",
      description = "With prices: the tokenizer that counts a prompt's input tokens (default ${DEFAULT-VALUE}).")
  String tokenModel;

  /** What is wrong with the flags, or empty. */
  Optional<String> problem() {
    if (outputTokens < 0) {
      return Optional.of("--output-tokens must be >= 0, got " + outputTokens);
    }
    if (EmbeddingModel.byId(tokenModel).isEmpty()) {
      return Optional.of("unknown --token-model " + tokenModel + " (known: " + EmbeddingModel.ids() + ")");
    }
    return Optional.empty();
  }

  /** Each prompt's cost on each rung. */
  PromptFiles.Costs costs(List<PromptRecord> prompts, Ladder ladder) {
    // The same ids as the model's own tokenizer, without loading its ONNX session.
    WordPieceTokenizer tokenizer = WordPieceTokenizer.of(EmbeddingModel.byId(tokenModel).orElseThrow());
    return PromptFiles.costs(prompts, ladder, tokenizer, outputTokens);
  }
}
