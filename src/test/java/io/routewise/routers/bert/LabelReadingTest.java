package io.routewise.routers.bert;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class LabelReadingTest {

  @Test
  void routeLlmsReadingIsOneMinusTheSumOfTheLastTwoSoftmaxProbabilities() {
    // logits [ln 2, ln 1, ln 1] -> softmax [0.5, 0.25, 0.25] -> 1 - (0.25 + 0.25) = 0.5
    float[] logits = {(float) Math.log(2), 0f, 0f};
    assertEquals(0.5, LabelReading.defaultFor(3).strongWinRate(logits), 1e-6);
    assertEquals(LabelReading.ROUTELLM, LabelReading.defaultFor(3));
    // [ln 6, ln 3, ln 1] -> [0.6, 0.3, 0.1] -> 0.6; shifted logits give the same (softmax is shift-invariant)
    float[] l2 = {(float) Math.log(6) + 100, (float) Math.log(3) + 100, 100f};
    assertEquals(0.6, LabelReading.ROUTELLM.strongWinRate(l2), 1e-5);
  }

  @Test
  void theHalfTieReadingCountsATieAsHalfAWin() {
    float[] logits = {(float) Math.log(6), (float) Math.log(3), 0f};
    assertEquals(0.6 + 0.15, LabelReading.HALF_TIE.strongWinRate(logits), 1e-5);
  }

  @Test
  void weakOkLabelsAreConfigurableByIndexOrByName() {
    List<String> names = List.of("LABEL_0", "LABEL_1", "LABEL_2");
    float[] logits = {(float) Math.log(6), (float) Math.log(3), 0f};
    // only "weak better" means the weak model is fine: a tie counts for the strong model
    LabelReading onlyWeak = LabelReading.weakOk(3, LabelReading.resolve(List.of("LABEL_2"), names));
    assertEquals(0.9, onlyWeak.strongWinRate(logits), 1e-5);
    assertEquals(List.of(1, 2), LabelReading.resolve(List.of("1", "LABEL_2"), names));
    assertArrayEquals(new double[] {1, 0, 0}, LabelReading.weakOk(3, List.of(1, 2)).weights());
  }

  @Test
  void extremeLogitsStayAProbability() {
    double r = LabelReading.ROUTELLM.strongWinRate(new float[] {1000f, -1000f, -1000f});
    assertEquals(1.0, r, 1e-12);
    assertTrue(LabelReading.ROUTELLM.strongWinRate(new float[] {-1000f, 1000f, 1000f}) >= 0);
  }

  @Test
  void rejectsLabelsOutsideTheModelAndUnknownNames() {
    assertThrows(IllegalArgumentException.class, () -> LabelReading.weakOk(3, List.of(3)));
    var e = assertThrows(IllegalArgumentException.class,
        () -> LabelReading.resolve(List.of("tie"), List.of("LABEL_0", "LABEL_1", "LABEL_2")));
    assertTrue(e.getMessage().contains("'tie'"), e.getMessage());
    assertThrows(IllegalArgumentException.class,
        () -> LabelReading.ROUTELLM.strongWinRate(new float[] {1f, 2f}));
  }
}
