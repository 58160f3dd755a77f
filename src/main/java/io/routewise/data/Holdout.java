package io.routewise.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * How a dataset is split into training and held-out prompts:
 * {@code source:A[,B]} (whole sources held out), {@code category:X[,Y]} (whole categories),
 * {@code fraction:0.1} (random prompts, seeded), or {@code none}.
 */
public record Holdout(String kind, Set<String> names, double fraction) {

  public static Holdout parse(String spec) {
    String s = spec.trim();
    if (s.equals("none")) {
      return new Holdout("none", Set.of(), 0);
    }
    int colon = s.indexOf(':');
    if (colon < 0) {
      throw new IllegalArgumentException("holdout must be none, source:NAME[,NAME], category:NAME[,NAME] or fraction:F, got '" + spec + "'");
    }
    String kind = s.substring(0, colon);
    String rest = s.substring(colon + 1);
    return switch (kind) {
      case "source", "category" -> new Holdout(kind, Arrays.stream(rest.split(",")).map(String::trim)
          .filter(x -> !x.isEmpty()).collect(Collectors.toUnmodifiableSet()), 0);
      case "fraction" -> {
        double f;
        try {
          f = Double.parseDouble(rest);
        } catch (NumberFormatException e) {
          throw new IllegalArgumentException("holdout fraction must be a number in (0, 1), got '" + rest + "'");
        }
        if (!(f > 0 && f < 1)) {
          throw new IllegalArgumentException("holdout fraction must be in (0, 1), got " + rest);
        }
        yield new Holdout(kind, Set.of(), f);
      }
      default -> throw new IllegalArgumentException("unknown holdout kind '" + kind + "' (source, category, fraction, none)");
    };
  }

  /** Indices of held-out prompts; the rest train. */
  public List<Integer> heldOut(Dataset data, long seed) {
    List<Integer> out = new ArrayList<>();
    Random rnd = new Random(seed);
    for (int i = 0; i < data.size(); i++) {
      PromptRecord p = data.prompts().get(i);
      boolean held = switch (kind) {
        case "source" -> names.contains(p.source());
        case "category" -> p.category() != null && names.contains(p.category());
        case "fraction" -> rnd.nextDouble() < fraction;
        default -> false;
      };
      if (held) {
        out.add(i);
      }
    }
    return out;
  }

  @Override
  public String toString() {
    return switch (kind) {
      case "none" -> "none";
      case "fraction" -> "fraction:" + fraction;
      default -> kind + ":" + names.stream().sorted().collect(Collectors.joining(","));
    };
  }
}
