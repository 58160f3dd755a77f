package io.routewise.routing;

import java.util.Arrays;
import java.util.Locale;
import java.util.Optional;

/**
 * How a ladder's per-rung win rates and α become a rung: one of two rules (by default each router
 * gets the one that suits it, {@link #forRouter}), each reduced to a value
 * per rung ({@link #acceptance}) that the threshold compares, so serving ({@link #rung}), targets
 * ({@link #topRate}) and the exact cost–quality sweep of {@code eval} share one definition.
 *
 * <ul>
 *   <li>{@link Kind#THRESHOLD} (the default): the cheapest rung the top does not beat with probability
 *       {@code >= α}, equal prices one step ({@link ThresholdRule#rung}). Uses prices only to order,
 *       and never takes a rung priced above the top (on three rungs or more).
 *   <li>{@link Kind#PRICE_WEIGHTED}: per prompt, the rung with the least predicted shortfall plus
 *       price, {@code logit(rate_i) + logit(α) π_i}: the log-odds that the top beats it (0 for the
 *       top itself), and {@code π_i} its input + output price scaled to [0, 1] between the cheapest
 *       rung (0) and the top (1), weighed by α's log-odds; ties go to the more capable. A dear middle
 *       rung must be predicted much better than a cheap one to be worth its price, which the
 *       threshold rule never asks. With two rungs it is exactly {@code rate >= α → strong}; as α grows
 *       the choice only moves to cheaper rungs (a minimum over lines whose slopes are the prices);
 *       α = 0 is the top (price weighs -∞; a rung at the top's own price predicted better takes
 *       over from any α above 0), and α = 1 the cheapest unless it is beaten for certain (a rate of
 *       exactly 1, which the shipped routers never give). It weighs the size of the router's
 *       predicted differences, so it gains where those are calibrated (a router trained on traffic
 *       like yours) and can lose where they are not (BENCHMARKS.md section 5).
 * </ul>
 */
public final class LadderRule {
  /** The rule's name under {@code routing.ladder_rule}. */
  public enum Kind {
    THRESHOLD,
    PRICE_WEIGHTED;

    public String configName() {
      return name().toLowerCase(Locale.ROOT);
    }

    public static Optional<Kind> byConfigName(String name) {
      return Arrays.stream(values()).filter(k -> k.configName().equals(name)).findFirst();
    }
  }

  /** {@code routing.ladder_rule}'s default: each router gets the rule that suits it ({@link #forRouter}). */
  public static final String AUTO = "auto";

  /** The values {@code routing.ladder_rule} takes: {@link #AUTO}, then each {@link Kind}. */
  public static java.util.List<String> configNames() {
    java.util.List<String> names = new java.util.ArrayList<>(java.util.List.of(AUTO));
    Arrays.stream(Kind.values()).map(Kind::configName).forEach(names::add);
    return names;
  }

  /**
   * The rule a router decides {@code ladder} by, under {@code routing.ladder_rule: configured}: a
   * named rule for every router; {@link #AUTO}, price-weighted for a router that
   * {@link Router#scoresEachUpstream scores each upstream} when every upstream is priced as that rule
   * needs ({@link #unsupported}), else threshold. With two upstreams both rules are the same
   * two-model rule, so nothing changes there.
   *
   * @throws IllegalArgumentException for an unknown name, or price-weighted named on a ladder that
   *     cannot run it
   */
  public static LadderRule forRouter(Ladder ladder, String configured, Router router) {
    return of(ladder, kindFor(ladder, configured, router.scoresEachUpstream()));
  }

  /** {@link #forRouter}'s choice for a router that does ({@code scoresEachUpstream}) or does not score each upstream. */
  public static Kind kindFor(Ladder ladder, String configured, boolean scoresEachUpstream) {
    if (AUTO.equals(configured)) {
      return scoresEachUpstream && ladder.size() > 2 && unsupported(ladder, Kind.PRICE_WEIGHTED).isEmpty()
          ? Kind.PRICE_WEIGHTED : Kind.THRESHOLD;
    }
    return Kind.byConfigName(configured).orElseThrow(() -> new IllegalArgumentException(
        "ladder rule must be one of " + configNames() + ", got '" + configured + "'"));
  }

  private final Ladder ladder;
  private final Kind kind;
  private final int[] tiers;
  private final double[] priceShares; // PRICE_WEIGHTED: π per rung, the top 1
  private final boolean[] aboveTop; // rungs priced above the top on a ladder of three or more; null when none

  private LadderRule(Ladder ladder, Kind kind) {
    this.ladder = ladder;
    this.kind = kind;
    this.tiers = ladder.priceTiers();
    this.priceShares = kind == Kind.PRICE_WEIGHTED ? priceShares(ladder) : null;
    this.aboveTop = aboveTop(ladder);
  }

  /**
   * Rungs priced above the top: never routed to on a ladder of three or more. The top is the most
   * capable, so such a rung is at best as good for more money: taking it when the top does not beat
   * it made the cost rise with α (operator trial). It stays reachable as {@code upstream-<name>} and
   * as a failover. With two upstreams the two-model rule stands as it is, whatever the prices.
   */
  private static boolean[] aboveTop(Ladder ladder) {
    if (ladder.size() <= 2 || !ladder.top().priced()) {
      return null;
    }
    boolean[] above = null;
    for (int i = 1; i < ladder.size(); i++) {
      if (ladder.rung(i).priced() && ladder.orderPrice(ladder.rung(i)) > ladder.orderPrice(ladder.top())) {
        if (above == null) {
          above = new boolean[ladder.size()];
        }
        above[i] = true;
      }
    }
    return above;
  }

  /** The threshold rule on {@code ladder}. */
  public static LadderRule threshold(Ladder ladder) {
    return new LadderRule(ladder, Kind.THRESHOLD);
  }

  /**
   * {@code kind} on {@code ladder}.
   *
   * @throws IllegalArgumentException when the price-weighted rule has no prices to weigh: with more
   *     than two rungs it needs every rung priced, none dearer than the top, and the top dearer than
   *     the cheapest
   */
  public static LadderRule of(Ladder ladder, Kind kind) {
    return new LadderRule(ladder, kind);
  }

  /** Why {@code kind} cannot run on {@code ladder}, or empty when it can. */
  public static Optional<String> unsupported(Ladder ladder, Kind kind) {
    if (kind != Kind.PRICE_WEIGHTED || ladder.size() == 2) {
      return Optional.empty();
    }
    for (Ladder.Rung r : ladder.rungs()) {
      if (!r.priced()) {
        return Optional.of("price_weighted needs a price on every upstream; '" + r.upstream() + "' has none");
      }
    }
    double top = ladder.orderPrice(ladder.top());
    for (int i = 1; i < ladder.size(); i++) {
      if (ladder.orderPrice(ladder.rung(i)) > top) {
        return Optional.of("price_weighted needs no upstream dearer (input + output) than '" + Ladder.TOP + "'; '"
            + ladder.rung(i).upstream() + "' is");
      }
    }
    if (ladder.orderPrice(ladder.rung(ladder.size() - 1)) == top) {
      return Optional.of("price_weighted needs '" + Ladder.TOP + "' dearer (input + output) than the cheapest upstream; "
          + "all cost the same");
    }
    return Optional.empty();
  }

  private static double[] priceShares(Ladder ladder) {
    int k = ladder.size();
    double[] shares = new double[k];
    shares[0] = 1;
    if (k == 2) {
      return shares; // the two-way rule: no price enters it
    }
    unsupported(ladder, Kind.PRICE_WEIGHTED).ifPresent(why -> {
      throw new IllegalArgumentException(why);
    });
    double min = Double.MAX_VALUE;
    for (Ladder.Rung r : ladder.rungs()) {
      min = Math.min(min, ladder.orderPrice(r));
    }
    double span = ladder.orderPrice(ladder.top()) - min;
    for (int i = 1; i < k; i++) {
      shares[i] = (ladder.orderPrice(ladder.rung(i)) - min) / span;
    }
    return shares;
  }

  public Ladder ladder() {
    return ladder;
  }

  public Kind kind() {
    return kind;
  }

  /**
   * One value per rung such that the rule's choice at α is the cheapest rung whose value is below α
   * (the top when none is): {@link ThresholdRule#rung}{@code (acceptance, α)}. Threshold rule: the
   * rates with equal prices made one step ({@link ThresholdRule#bestOfEqualPrices}); the input itself
   * when no two rungs share a price. Price-weighted rule: the α at which each rung takes over the
   * lower envelope of the lines {@code logit(rate_i) + logit(α) π_i}, 2 (never) for a rung that
   * never does, 0 for one at the top's price that starts below it (predicted better than the top:
   * chosen at every α above 0 until a cheaper one takes over); with two rungs, the rates themselves (the
   * rule then is {@code logit(rate) < logit(α)}, exactly the two-way rule, here without rounding).
   *
   * @param topWinRates per rung (most capable first), P(top beats it); entry 0 is ignored
   */
  public double[] acceptance(double[] topWinRates) {
    if (kind == Kind.THRESHOLD || topWinRates.length == 2) {
      double[] values = ThresholdRule.bestOfEqualPrices(topWinRates, tiers);
      if (aboveTop != null) {
        values = values == topWinRates ? values.clone() : values;
        for (int i = 1; i < values.length; i++) {
          if (aboveTop[i]) {
            values[i] = 2.0; // never
          }
        }
      }
      return values;
    }
    // Of rungs at one price only the best takes part, on equal rates the later (weak below its equals),
    // as under the threshold rule: two upstreams placed on one model (a second host of it) have
    // equal rates, and the walk below would take the earlier one
    topWinRates = ThresholdRule.bestOfEqualPrices(topWinRates, tiers);
    int k = topWinRates.length;
    double[] values = new double[k];
    Arrays.fill(values, 2.0);
    values[0] = 0;
    // Walk the lower envelope of the lines logit(rate_i) + λ π_i from λ = logit(α) = -∞, where the
    // lowest of the steepest lines (the top's, 0 + λ, and any at its price with a lower rate) is
    // lowest. From the current line c, the next is the flatter line that crosses below it first: j is
    // below c for λ > (logit(rate_j) - logit(rate_c)) / (π_c - π_j). A rung beaten for certain
    // (rate 1) never takes over, as under the threshold rule.
    double[] scores = new double[k]; // each log-odds once: the walk below reads them O(k^2) times
    for (int j = 1; j < k; j++) {
      scores[j] = score(topWinRates[j]);
    }
    int current = 0;
    double currentScore = 0;
    for (int j = 1; j < k; j++) {
      if (priceShares[j] == 1 && scores[j] < currentScore) { // the top's price: parallel to its line
        current = j;
        currentScore = scores[j];
      }
    }
    if (current != 0) {
      // from any α above 0: α = 0 stays the top, whatever the router predicts, as it is with two
      values[current] = 0;
    }
    double at = Double.NEGATIVE_INFINITY;
    while (true) {
      int next = -1;
      double nextAt = Double.POSITIVE_INFINITY;
      for (int j = 1; j < k; j++) {
        if (priceShares[j] >= priceShares[current] || topWinRates[j] >= 1) {
          continue;
        }
        double cross = Math.max(at, (scores[j] - currentScore) / (priceShares[current] - priceShares[j]));
        // Several lines crossing c at one λ: the first in ladder order is taken, and the walk goes on
        // from it to the flatter ones at the same λ, so the choice past it is the same.
        if (cross < nextAt) {
          next = j;
          nextAt = cross;
        }
      }
      if (next < 0) {
        return values;
      }
      values[next] = alphaOf(nextAt);
      current = next;
      currentScore = scores[next];
      at = nextAt;
    }
  }

  /** The predicted shortfall of a rung the top beats with {@code rate}: its log-odds (0 for the top). */
  private static double score(double rate) {
    double r = Math.max(rate, Double.MIN_VALUE); // 0 (the top never wins) stays finite: cheaper rungs can still take over
    return Math.log(r / (1 - r));
  }

  /**
   * The α whose log-odds is {@code lambda}, kept below 1: a crossing at any finite λ is passed before
   * α = 1 (λ = +∞), also where the sigmoid rounds to 1, so α = 1 reaches the cheapest rung not beaten
   * for certain.
   */
  private static double alphaOf(double lambda) {
    return Math.min(1 / (1 + Math.exp(-lambda)), Math.nextDown(1.0));
  }

  /** The rung to route to at threshold {@code alpha}: index into the ladder, 0 the top. */
  public int rung(double[] topWinRates, double alpha) {
    return ThresholdRule.rung(acceptance(topWinRates), alpha);
  }

  /**
   * The largest α at which the top is still chosen (the top is chosen exactly when {@code alpha <=}
   * this): the least of {@link #acceptance}'s values below the top. What a target's window records.
   */
  public double topRate(double[] topWinRates) {
    double[] values = acceptance(topWinRates);
    double min = Double.POSITIVE_INFINITY;
    for (int i = 1; i < values.length; i++) {
      min = Math.min(min, values[i]);
    }
    return min;
  }
}
