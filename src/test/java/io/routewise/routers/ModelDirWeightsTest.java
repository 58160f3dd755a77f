package io.routewise.routers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelDirWeightsTest {
  @TempDir
  Path dir;

  private ModelDir withBias(float... bias) throws IOException {
    Files.writeString(dir.resolve("manifest.json"), """
        {"format_version": %d, "kind": "mf", "models": ["a", "b"], "embedding": {"model": "m", "dimension": 2},
         "weights": {"model_bias": {"file": "model_bias.f32", "shape": [2]}}}
        """.formatted(ModelDir.FORMAT_VERSION));
    // raw bytes: writeFloats refuses a non-finite value, and a file from elsewhere may hold one
    java.nio.ByteBuffer bb = java.nio.ByteBuffer.allocate(bias.length * 4).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    for (float b : bias) {
      bb.putFloat(b);
    }
    Files.write(dir.resolve("model_bias.f32"), bb.array());
    return ModelDir.open(dir, "mf");
  }

  @Test
  void finiteWeightsLoad() throws IOException {
    assertArrayEquals(new float[] {0.5f, -1f}, withBias(0.5f, -1f).weights("model_bias", 2));
  }

  @Test
  void aNonFiniteWeightStopsTheLoadNamingFileAndIndex() throws IOException {
    // one NaN in a bias made every mf decision NaN: each request an out_of_range failure sent strong
    for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY}) {
      ModelDir md = withBias(0.5f, bad);
      IOException e = assertThrows(IOException.class, () -> md.weights("model_bias", 2));
      assertTrue(e.getMessage().contains("model_bias.f32: value 1 is " + bad), e.getMessage());
    }
  }
}
