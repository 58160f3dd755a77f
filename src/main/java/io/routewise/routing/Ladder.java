package io.routewise.routing;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The upstreams a request can be routed to, most capable first: the rungs of a ladder that
 * {@link ThresholdRule#rung} walks down as α grows. With two rungs ({@code strong}, {@code weak})
 * routing is exactly the two-way rule {@code win rate >= α → strong}.
 *
 * <p>The order ({@link #byPrice}) is decided here and nowhere else:
 * <ol>
 *   <li>{@code strong} is the top: the most capable upstream, where a request goes when its router
 *       fails, and the one savings are counted against. It stays on top even if another is dearer.
 *   <li>The others follow by price, dearest first, a price being input + output USD per million
 *       tokens (an answer as long as its prompt), or those weighed by the traffic's token mix
 *       ({@link #orderPrice}).
 *   <li>An upstream without a price counts as free (a local model is the usual case): below every
 *       priced one.
 *   <li>Equal prices keep the order they were written in, except that {@code weak} goes below the
 *       others it ties with, so a ladder without prices runs strong, the others as written, weak.
 * </ol>
 * Priced rungs at exactly the same input and output price form one {@link #priceTiers tier}, which
 * the rule treats as one step ({@link ThresholdRule#bestOfEqualPrices}); unpriced rungs keep their
 * written order, which is then the operator's statement of cost.
 *
 * @param rungs most capable first; at least two, names unique
 * @param inputWeight input tokens of a typical request, in proportion to {@code outputWeight}
 *     ({@code routing.token_mix}; 1 and 1 by default)
 * @param outputWeight output tokens of a typical request, in proportion
 */
public record Ladder(List<Rung> rungs, double inputWeight, double outputWeight) {
  /** The name of the upstream that is always the top. */
  public static final String TOP = "strong";
  /** The name of the upstream that goes below its equals in price. */
  public static final String FLOOR = "weak";

  /**
   * One upstream on the ladder.
   *
   * @param upstream its name under {@code upstreams:}
   * @param model the model id it is sent
   * @param inputPrice USD per million input tokens, NaN when unknown
   * @param outputPrice USD per million output tokens, NaN when unknown
   * @param accepts what it takes besides text ({@code upstreams.<name>.accepts}; all by default)
   */
  public record Rung(String upstream, String model, double inputPrice, double outputPrice,
      java.util.Set<Media> accepts) {
    public Rung {
      accepts = java.util.Set.copyOf(accepts);
    }

    /** Taking every kind of media, as an upstream that says nothing does. */
    public Rung(String upstream, String model, double inputPrice, double outputPrice) {
      this(upstream, model, inputPrice, outputPrice, Media.ALL);
    }

    public static Rung unpriced(String upstream, String model) {
      return new Rung(upstream, model, Double.NaN, Double.NaN);
    }

    public boolean priced() {
      return !Double.isNaN(inputPrice) && !Double.isNaN(outputPrice);
    }

  }

  /**
   * Where a request carrying {@code media} goes when the rule chose {@code rung}: there if it takes
   * them, else the nearest more capable rung that does (the next one up can answer whatever the
   * one below could), passing over one priced above the top on three rungs or more, as failover does
   * (the top does at least as well for less; a router never chooses it); when none at or above it
   * does (a text-only top), the nearest below that does; when none but one priced above the top, that
   * one; when none at all, the top.
   */
  public int accepting(int rung, java.util.Set<Media> media) {
    if (media.isEmpty()) {
      return rung;
    }
    for (int i = rung; i >= 0; i--) {
      if (rungs.get(i).accepts().containsAll(media) && (i == rung || !aboveTop(i))) {
        return i;
      }
    }
    for (int i = rung + 1; i < rungs.size(); i++) {
      if (rungs.get(i).accepts().containsAll(media)) {
        return i;
      }
    }
    for (int i = rung - 1; i > 0; i--) { // only one priced above the top takes them
      if (rungs.get(i).accepts().containsAll(media)) {
        return i;
      }
    }
    return 0;
  }

  /** Whether rung {@code i} is priced above the top on a ladder of three or more (never a router's choice). */
  private boolean aboveTop(int i) {
    return rungs.size() > 2 && i > 0 && top().priced() && rungs.get(i).priced() && orderPrice(rungs.get(i)) > orderPrice(top());
  }

  /** With the default token mix: input + output. */
  public Ladder(List<Rung> rungs) {
    this(rungs, 1, 1);
  }

  /**
   * What the order compares: {@code inputWeight × input + outputWeight × output} USD per million
   * tokens (input + output with the default mix); 0 when unknown.
   */
  public double orderPrice(Rung r) {
    return orderPrice(r, inputWeight, outputWeight);
  }

  private static double orderPrice(Rung r, double inputWeight, double outputWeight) {
    return r.priced() ? inputWeight * r.inputPrice() + outputWeight * r.outputPrice() : 0;
  }

  public Ladder {
    if (!(inputWeight >= 0 && outputWeight >= 0 && inputWeight + outputWeight > 0)) {
      throw new IllegalArgumentException("a token mix needs weights >= 0, not both 0: " + inputWeight + ", " + outputWeight);
    }
    rungs = List.copyOf(rungs);
    if (rungs.size() < 2) {
      throw new IllegalArgumentException("a ladder needs at least two upstreams: " + rungs);
    }
    Set<String> names = new HashSet<>();
    for (Rung r : rungs) {
      if (!names.add(r.upstream())) {
        throw new IllegalArgumentException("upstream '" + r.upstream() + "' is on the ladder twice");
      }
    }
  }

  /** Today's two upstreams, without prices. */
  public static Ladder twoWay(String strongModel, String weakModel) {
    return new Ladder(List.of(Rung.unpriced(TOP, strongModel), Rung.unpriced(FLOOR, weakModel)));
  }

  /** Orders {@code upstreams} (given in config order) by the rules above, with the default token mix. */
  public static Ladder byPrice(Collection<Rung> upstreams) {
    return byPrice(upstreams, 1, 1);
  }

  /** Orders {@code upstreams} (given in config order) by the rules above, prices weighed by a token mix. */
  public static Ladder byPrice(Collection<Rung> upstreams, double inputWeight, double outputWeight) {
    List<Rung> top = upstreams.stream().filter(r -> r.upstream().equals(TOP)).toList();
    if (top.size() != 1) {
      throw new IllegalArgumentException("the ladder needs exactly one upstream named '" + TOP + "'");
    }
    List<Rung> rest = new ArrayList<>(upstreams.stream().filter(r -> !r.upstream().equals(TOP)).toList());
    // Stable: ties keep the config order.
    rest.sort(Comparator.<Rung>comparingDouble(r -> orderPrice(r, inputWeight, outputWeight)).reversed()
        .thenComparing(r -> r.upstream().equals(FLOOR)));
    List<Rung> all = new ArrayList<>(top);
    all.addAll(rest);
    return new Ladder(all, inputWeight, outputWeight);
  }

  /**
   * What an answer below the top costs beside one of the top, before any has been measured: the
   * mean over the rungs a request can be routed to below the top of their {@link #orderPrice} over
   * the top's, so weighed by the token mix as the order is. On three rungs or more a rung priced
   * above the top is left out (never routed to); with two, a weak dearer than strong gives a ratio
   * above 1. NaN when a rung or the top has no price, or the top's is 0.
   */
  public double belowTopPriceRatio() {
    double top = orderPrice(top());
    if (!top().priced() || !(top > 0)) {
      return Double.NaN;
    }
    double sum = 0;
    int n = 0;
    for (int i = 1; i < rungs.size(); i++) {
      Rung r = rungs.get(i);
      if (!r.priced()) {
        return Double.NaN;
      }
      if (rungs.size() > 2 && orderPrice(r) > top) {
        continue;
      }
      sum += orderPrice(r) / top;
      n++;
    }
    return n == 0 ? Double.NaN : sum / n;
  }

  public int size() {
    return rungs.size();
  }

  public Rung rung(int i) {
    return rungs.get(i);
  }

  public Rung top() {
    return rungs.get(0);
  }

  /** The rung of upstream {@code name}, or -1. */
  public int indexOf(String name) {
    for (int i = 0; i < rungs.size(); i++) {
      if (rungs.get(i).upstream().equals(name)) {
        return i;
      }
    }
    return -1;
  }

  /**
   * A tier number per rung: two rungs below the top share one when both are priced and their input
   * and output prices are equal; the top and every unpriced rung are tiers of their own.
   */
  public int[] priceTiers() {
    int[] tiers = new int[rungs.size()];
    for (int i = 0; i < tiers.length; i++) {
      tiers[i] = i;
      Rung r = rungs.get(i);
      for (int j = 1; j < i; j++) {
        Rung o = rungs.get(j);
        if (r.priced() && o.priced() && r.inputPrice() == o.inputPrice() && r.outputPrice() == o.outputPrice()) {
          tiers[i] = tiers[j];
          break;
        }
      }
    }
    return tiers;
  }

  /** The number of distinct tiers that come before rung {@code i}'s own (ties' tier: its first rung). */
  private static int step(int[] tiers, int i) {
    int step = 0;
    for (int j = 0; j < tiers.length; j++) {
      if (tiers[j] == j && j < tiers[i]) {
        step++;
      }
    }
    return step;
  }

  /**
   * The N-way meaning of a two-way router's score ({@link Router#topWinRates}'s default): with
   * {@code s} = P(top beats the cheapest), the top beats rung i with {@code s^(1/gap(i))}, {@code
   * gap(i)} its steps of price below the top over the cheapest's (0 for the top, 1 for the cheapest;
   * one step a {@link #priceTiers price tier}). So the cheapest gets {@code s} itself, nearer rungs
   * are beaten less often, and the rule {@code rate < α} becomes one threshold per step,
   * {@code s < α^gap(i)}: at α = 0.5 on three
   * rungs, s below 0.5 goes to the cheapest, 0.5 to 0.71 to the middle one, above to the top.
   * Rungs at one price get one rate: a single score cannot tell them apart, and the rule then takes
   * the one lowest on the ladder ({@code weak} below its equals). On three rungs or more, a rung priced
   * above the top, never chosen, is beaten for certain (1) and no step. Entry 0 (the top against itself) is 0.
   */
  public double[] fromStrongWinRate(double s) {
    int n = rungs.size();
    int[] tiers = priceTiers();
    // on three rungs or more, those priced above the top are never chosen (LadderRule): no step of the spread
    boolean[] above = new boolean[n];
    int aboveSteps = 0;
    for (int i = 1; i < n && n > 2; i++) {
      above[i] = top().priced() && rungs.get(i).priced() && orderPrice(rungs.get(i)) > orderPrice(top());
      if (above[i] && tiers[i] == i) {
        aboveSteps++;
      }
    }
    int last = step(tiers, n - 1) - aboveSteps;
    if (last <= 0) { // every rung above the top: nothing to spread over
      aboveSteps = 0;
      last = step(tiers, n - 1);
      java.util.Arrays.fill(above, false);
    }
    double[] rates = new double[n];
    for (int i = 1; i < n; i++) {
      int step = step(tiers, i) - aboveSteps;
      rates[i] = above[i] ? 1 : step == last ? s : Math.pow(s, (double) last / step);
    }
    return rates;
  }
}
