package io.routewise.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A prices file as in {@code ../shared/data/prices.json}: {@code {"models": {id:
 * {"input_usd_per_mtok", "output_usd_per_mtok", ...}}}}, USD per million tokens.
 */
public final class Prices {
  private Prices() {}

  /** Model id to {input, output} USD per million tokens. */
  public static Map<String, double[]> read(Path file) throws IOException {
    JsonNode root = new ObjectMapper().readTree(file.toFile());
    if (root == null || !root.path("models").isObject()) {
      throw new IOException(file + ": expected {\"models\": {id: {\"input_usd_per_mtok\", \"output_usd_per_mtok\"}}}");
    }
    Map<String, double[]> out = new LinkedHashMap<>();
    for (var e : root.path("models").properties()) {
      JsonNode in = e.getValue().path("input_usd_per_mtok");
      JsonNode outPrice = e.getValue().path("output_usd_per_mtok");
      if (!in.isNumber() || !outPrice.isNumber() || in.asDouble() < 0 || outPrice.asDouble() < 0) {
        throw new IOException(file + ": models." + e.getKey() + " needs non-negative input_usd_per_mtok and output_usd_per_mtok");
      }
      out.put(e.getKey(), new double[] {in.asDouble(), outPrice.asDouble()});
    }
    return out;
  }
}
