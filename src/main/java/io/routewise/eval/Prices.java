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
    JsonNode root;
    try {
      root = new ObjectMapper().readTree(file.toFile());
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) { // Jackson's own message is two lines, no file
      String problem = io.routewise.config.JsonMessages.readable(e.getOriginalMessage());
      throw new IOException(file + ": not JSON: " + problem.substring(0, problem.length() - 1)
          + (e.getLocation() == null ? "" : " (line " + e.getLocation().getLineNr() + ", column "
              + e.getLocation().getColumnNr() + ")"), e);
    }
    if (root == null || !root.path("models").isObject()) {
      throw new IOException(file + ": expected {\"models\": {id: {\"input_usd_per_mtok\", \"output_usd_per_mtok\"}}}");
    }
    Map<String, double[]> out = new LinkedHashMap<>();
    for (var e : root.path("models").properties()) {
      JsonNode in = e.getValue().path("input_usd_per_mtok");
      JsonNode outPrice = e.getValue().path("output_usd_per_mtok");
      // 1e400 reads as infinity: refused here, naming the model, not later as a bare "prices must be finite"
      if (!in.isNumber() || !outPrice.isNumber() || !(in.asDouble() >= 0 && Double.isFinite(in.asDouble()))
          || !(outPrice.asDouble() >= 0 && Double.isFinite(outPrice.asDouble()))) {
        throw new IOException(file + ": models." + e.getKey() + " needs finite, non-negative input_usd_per_mtok and "
            + "output_usd_per_mtok");
      }
      out.put(e.getKey(), new double[] {in.asDouble(), outPrice.asDouble()});
    }
    return out;
  }
}
