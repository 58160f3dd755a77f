package io.routewise.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** eval's two-model table on inputs where APGR and CPT are undefined. */
class EvalUndefinedGapTest {

  private static Path bench(Path dir, String name, int n, boolean sameQuality) throws Exception {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < n; i++) {
      double a = i % 2;
      double b = sameQuality ? (i + 1) % 2 : (i % 3 == 0 ? 1 : 0);
      sb.append("{\"id\":\"r/").append(i).append("\",\"prompt\":\"").append("word ".repeat(i + 1))
          .append("\",\"outcomes\":{\"A\":").append(a).append(",\"B\":").append(b).append("}}\n");
    }
    return Files.writeString(dir.resolve(name), sb.toString());
  }

  /** --strong A --weak A printed a table of "-Infinity" APGRs and exited 0. */
  @Test
  void strongEqualToWeakIsAUsageErrorNotATableOfInfinities(@TempDir Path tmp) throws Exception {
    Path b = bench(tmp, "b.jsonl", 40, false);
    LearnedRoutersEndToEndTest.Run r = LearnedRoutersEndToEndTest.run(List.of("eval", "--bench", b.toString(),
        "--strong", "A", "--weak", "A", "--router", "length", "--quiet"));
    assertEquals(2, r.code(), r.out() + r.err());
    assertFalse(r.out().contains("Infinity"), r.out());
    assertTrue(r.err().contains("A"), r.err());
  }

  /** Strong and weak of equal mean quality: APGR is 0/0; it printed "-Infinity" and a CPT of 28 %. */
  @Test
  void equalStrongAndWeakQualityGivesNoInfiniteApgr(@TempDir Path tmp) throws Exception {
    Path b = bench(tmp, "eq.jsonl", 20, true);
    LearnedRoutersEndToEndTest.Run r = LearnedRoutersEndToEndTest.run(List.of("eval", "--bench", b.toString(),
        "--strong", "A", "--weak", "B", "--router", "length", "--quiet"));
    assertFalse(r.out().contains("Infinity"), r.out());
  }
}
