package io.routewise.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** distill over a table replaced it silently, and every router trained on it then refused to load (CLI trial). */
class DistillOutTest {
  @TempDir
  Path tmp;

  @Test
  void anExistingTableIsKeptUnlessForced() throws Exception {
    Path table = Files.createDirectories(tmp.resolve("my-static"));
    Files.writeString(table.resolve("manifest.json"), "{\"kind\": \"static_embedding\"}");
    LearnedRoutersEndToEndTest.Run r = LearnedRoutersEndToEndTest.run(List.of("distill", "--out", table.toString(),
        "--quiet"));
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("holds a table already") && r.err().contains("--force"), r.err());
    assertEquals("{\"kind\": \"static_embedding\"}", Files.readString(table.resolve("manifest.json")));
  }
}
