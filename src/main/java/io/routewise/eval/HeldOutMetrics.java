package io.routewise.eval;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.routewise.data.TrainingSet;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntToDoubleFunction;

/** The figures a trainer writes into a manifest about the prompts it held out. */
public final class HeldOutMetrics {
  private HeldOutMetrics() {}

  /**
   * Adds {@code pair, pair_prompts, apgr, cpt50} for the pair on the held-out prompts that have
   * outcomes for both; {@code scorer} gives the strong win rate of dataset prompt q.
   */
  public static void apgrOn(ObjectNode out, TrainingSet set, String strong, String weak, IntToDoubleFunction scorer) {
    List<double[]> rows = new ArrayList<>();
    for (int q : set.heldOut()) {
      var oc = set.data().prompts().get(q).outcomes();
      if (oc.containsKey(strong) && oc.containsKey(weak)) {
        rows.add(new double[] {scorer.applyAsDouble(q), oc.get(strong), oc.get(weak)});
      }
    }
    out.put("pair", strong + " vs " + weak);
    out.put("pair_prompts", rows.size());
    if (rows.size() >= 10) {
      QualityCurve curve = QualityCurve.of(rows.stream().mapToDouble(r -> r[0]).toArray(),
          rows.stream().mapToDouble(r -> r[1]).toArray(), rows.stream().mapToDouble(r -> r[2]).toArray());
      if (curve.noGap()) { // undefined: null, not the 0 that rounding NaN gives
        out.putNull("apgr");
        out.putNull("cpt50");
      } else {
        out.put("apgr", round(curve.apgr()));
        out.put("cpt50", round(curve.cpt(0.5)));
      }
    }
  }

  /**
   * The pair a held-out APGR is measured on: {@code strong} and {@code weak} when at least 10 held-out
   * prompts score both; else (an operator's labels rarely score the manifest's defaults) the models
   * with the best and the worst mean held-out score among those that 10 or more of them score together.
   */
  public static String[] pairFor(TrainingSet set, String strong, String weak) {
    java.util.Map<String, double[]> sums = new java.util.LinkedHashMap<>(); // model -> {sum, count}
    int both = 0;
    for (int q : set.heldOut()) {
      var oc = set.data().prompts().get(q).outcomes();
      if (oc.containsKey(strong) && oc.containsKey(weak)) {
        both++;
      }
      oc.forEach((model, score) -> {
        double[] s = sums.computeIfAbsent(model, k -> new double[2]);
        s[0] += score;
        s[1]++;
      });
    }
    if (both >= 10) {
      return new String[] {strong, weak};
    }
    List<String> scored = sums.entrySet().stream().filter(e -> e.getValue()[1] >= 10)
        .sorted((a, b) -> Double.compare(b.getValue()[0] / b.getValue()[1], a.getValue()[0] / a.getValue()[1]))
        .map(java.util.Map.Entry::getKey).toList();
    for (int i = 0; i < scored.size(); i++) {
      for (int j = scored.size() - 1; j > i; j--) {
        String s = scored.get(i);
        String w = scored.get(j);
        long together = set.heldOut().stream().map(q -> set.data().prompts().get(q).outcomes())
            .filter(oc -> oc.containsKey(s) && oc.containsKey(w)).count();
        if (together >= 10) {
          return new String[] {s, w};
        }
      }
    }
    return new String[] {strong, weak};
  }

  public static double round(double x) {
    return Math.round(x * 10000) / 10000.0;
  }
}
