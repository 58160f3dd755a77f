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
      out.put("apgr", round(curve.apgr()));
      out.put("cpt50", round(curve.cpt(0.5)));
    }
  }

  public static double round(double x) {
    return Math.round(x * 10000) / 10000.0;
  }
}
