package io.routewise.embedding;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The alignment on a synthetic corpus whose targets come from a hidden table. */
class TableAlignmentTest {
  static final int VOCAB = 60;
  static final int DIM = 6;
  static final int OUT = 5;

  record Corpus(float[] table, List<int[]> texts, List<float[]> targets) {}

  /**
   * Texts of 3-12 random tokens; each target is the mean of a hidden table's rows, where the hidden
   * table is the given one times a fixed map plus {@code noise} per row.
   */
  static Corpus corpus(double noise, long seed) {
    Random r = new Random(seed);
    float[] table = new float[VOCAB * DIM];
    for (int i = 0; i < table.length; i++) {
      table[i] = (float) r.nextGaussian();
    }
    double[][] map = new double[DIM][OUT];
    for (double[] row : map) {
      for (int j = 0; j < OUT; j++) {
        row[j] = r.nextGaussian();
      }
    }
    float[] hidden = new float[VOCAB * OUT];
    for (int t = 0; t < VOCAB; t++) {
      for (int j = 0; j < OUT; j++) {
        double s = noise * r.nextGaussian();
        for (int i = 0; i < DIM; i++) {
          s += table[t * DIM + i] * map[i][j];
        }
        hidden[t * OUT + j] = (float) s;
      }
    }
    List<int[]> texts = new ArrayList<>();
    List<float[]> targets = new ArrayList<>();
    for (int q = 0; q < 400; q++) {
      int[] ids = new int[3 + r.nextInt(10)];
      float[] e = new float[OUT];
      for (int k = 0; k < ids.length; k++) {
        ids[k] = r.nextInt(VOCAB);
        for (int j = 0; j < OUT; j++) {
          e[j] += hidden[ids[k] * OUT + j] / ids.length;
        }
      }
      texts.add(ids);
      targets.add(e);
    }
    texts.add(new int[0]); // a text with no token is skipped
    targets.add(new float[OUT]);
    return new Corpus(table, texts, targets);
  }

  @Test
  void targetsThatAreALinearMapOfTheRowsAreReachedByTheMapAlone() {
    Corpus c = corpus(0, 1);
    TableAlignment.Fit fit = TableAlignment.align(c.table(), VOCAB, DIM, c.texts(), c.targets(),
        new TableAlignment.Recipe(0, 0.003, 1e-4), 1, step -> {});
    assertEquals(OUT, fit.dimension());
    assertEquals(VOCAB * OUT, fit.vectors().length);
    assertTrue(fit.lossMapped() < 1e-6, "mapped loss " + fit.lossMapped());
    assertTrue(Double.isNaN(fit.lossBefore()), "the token vectors live in another space than the targets");
  }

  @Test
  void rowsTheMapCannotExplainAreFittedByTheAdamSteps() {
    Corpus c = corpus(1.0, 2);
    TableAlignment.Fit fit = TableAlignment.align(c.table(), VOCAB, DIM, c.texts(), c.targets(),
        new TableAlignment.Recipe(300, 0.05, 0), 2, step -> {});
    assertTrue(fit.lossMapped() > 0.02, "noise the map cannot reach: " + fit.lossMapped());
    assertTrue(fit.lossAfter() < 0.3 * fit.lossMapped(), fit.lossMapped() + " -> " + fit.lossAfter());
  }

  @Test
  void theSameCorpusGivesTheSameBytesOnAnyNumberOfThreads() {
    Corpus c = corpus(1.0, 3);
    TableAlignment.Recipe recipe = new TableAlignment.Recipe(20, 0.01, 1e-3);
    float[] one = TableAlignment.align(c.table(), VOCAB, DIM, c.texts(), c.targets(), recipe, 1, s -> {}).vectors();
    float[] three = TableAlignment.align(c.table(), VOCAB, DIM, c.texts(), c.targets(), recipe, 3, s -> {}).vectors();
    assertArrayEquals(one, three);
  }

  @Test
  void aTokenNoTextHoldsKeepsItsMappedRow() {
    Corpus c = corpus(1.0, 4);
    List<int[]> texts = new ArrayList<>();
    for (int[] t : c.texts()) {
      texts.add(java.util.Arrays.stream(t).map(x -> x == 7 ? 8 : x).toArray()); // token 7 never occurs
    }
    TableAlignment.Fit mapped = TableAlignment.align(c.table(), VOCAB, DIM, texts, c.targets(),
        new TableAlignment.Recipe(0, 0.01, 0), 1, s -> {});
    TableAlignment.Fit fitted = TableAlignment.align(c.table(), VOCAB, DIM, texts, c.targets(),
        new TableAlignment.Recipe(50, 0.01, 0), 1, s -> {});
    for (int j = 0; j < OUT; j++) {
      assertEquals(mapped.vectors()[7 * OUT + j], fitted.vectors()[7 * OUT + j], 0f);
    }
    boolean moved = false;
    for (int j = 0; j < OUT; j++) {
      moved |= mapped.vectors()[8 * OUT + j] != fitted.vectors()[8 * OUT + j];
    }
    assertTrue(moved, "a token the corpus holds is fitted");
  }

  @Test
  void targetsOfDifferentSizesOrACorpusWithNoTokenAreRefused() {
    Corpus c = corpus(0, 6);
    List<float[]> ragged = new ArrayList<>(c.targets());
    ragged.set(5, new float[OUT + 1]);
    assertThrows(IllegalArgumentException.class, () -> TableAlignment.align(c.table(), VOCAB, DIM, c.texts(), ragged,
        TableAlignment.Recipe.DEFAULT, 1, s -> {}));
    assertThrows(IllegalArgumentException.class, () -> TableAlignment.align(c.table(), VOCAB, DIM,
        List.of(new int[0], new int[0]), List.of(new float[OUT], new float[OUT]), TableAlignment.Recipe.DEFAULT, 1, s -> {}));
  }

  @Test
  void oneTargetPerTextIsRequired() {
    Corpus c = corpus(0, 5);
    assertThrows(IllegalArgumentException.class, () -> TableAlignment.align(c.table(), VOCAB, DIM, c.texts(),
        c.targets().subList(0, 3), TableAlignment.Recipe.DEFAULT, 1, s -> {}));
  }
}
