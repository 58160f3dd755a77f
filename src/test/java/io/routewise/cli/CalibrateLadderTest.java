package io.routewise.cli;

import static io.routewise.cli.LearnedRoutersEndToEndTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.routewise.Routewise;
import io.routewise.TestConfigs;
import io.routewise.data.PromptRecord;
import io.routewise.embedding.Embedders;
import io.routewise.embedding.EmbeddingModel;
import io.routewise.embedding.EmbeddingSettings;
import io.routewise.embedding.WordPieceTokenizer;
import io.routewise.routers.RouterCatalog;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code calibrate} on a config of three priced upstreams with the shipped mf: its table, the α for a
 * share sent to {@code strong} and the α for a budget, each checked against what a running
 * {@code serve} decides for the same prompts through {@code POST /v1/route}.
 */
class CalibrateLadderTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Path PROMPTS = Path.of("src/test/resources/fixtures/synthetic-outcomes.jsonl");
  private static final Map<String, double[]> PRICES = Map.of(
      "strong", new double[] {5, 15}, "mini", new double[] {0.15, 0.6}, "weak", new double[] {0.2, 0.2});
  private static final String UPSTREAMS = """
      upstreams:
        strong: {base_url: "http://127.0.0.1:9/v1", api_key: none, model: gpt-4o-2024-05-13, price: {input: 5, output: 15}}
        mini: {base_url: "http://127.0.0.1:9/v1", api_key: none, model: gpt-4o-mini-2024-07-18, price: {input: 0.15, output: 0.6}}
        weak: {base_url: "http://127.0.0.1:9/v1", api_key: none, model: llama-3.1-8b-instruct, price: {input: 0.2, output: 0.2}}
      routing: {router: mf, threshold: 0.5}
      routers: {mf: {}}
      """;

  @TempDir
  Path tmp;

  @Test
  void theThresholdIsTheOneItsModelNameCarries() {
    double[] scores = {0.1, 0.2, 0.866414, 0.5};
    double none = CalibrateCommand.modelNameThreshold(scores, 0);
    assertEquals(0.86642, none, 1e-12, "above every score, in five decimals");
    assertEquals(0, java.util.Arrays.stream(scores).filter(x -> x >= Double.parseDouble(String.format(
        java.util.Locale.ROOT, "%.5f", none))).count(), "none strong with the printed name");
    assertEquals(1.0, CalibrateCommand.modelNameThreshold(new double[] {0.3, 1.0}, 0), "1 at most");
    // a top score with five decimals or fewer: the name above it, not itself (0.42 in binary is under 0.42)
    assertEquals(0.42001, CalibrateCommand.modelNameThreshold(new double[] {0.1, 0.42}, 0), 1e-12);
    assertEquals(0.5, CalibrateCommand.modelNameThreshold(new double[] {0.2, 0.5, 0.8}, 0.5), 1e-12);
    // every prompt asked for: α 0, not the lowest score rounded up past itself (5748 of 5749 went strong)
    assertEquals(0.0, CalibrateCommand.modelNameThreshold(new double[] {0.000415, 0.3, 0.9}, 1.0));
    // tied scores (a judge read from its text): 16 at 0, 4 at 1; 25 % asked is 20 % (α above 0), not all of them
    double[] tied = new double[20];
    java.util.Arrays.fill(tied, 16, 20, 1.0);
    double a = CalibrateCommand.modelNameThreshold(tied, 0.25);
    assertEquals(4, java.util.Arrays.stream(tied).filter(x -> x >= a).count(), "α " + a);
    assertEquals(0.0, CalibrateCommand.modelNameThreshold(tied, 0.9), "90 %: all 20 (100 %) is nearer than 4 (20 %)");
    // one prompt: 1 % asked is none of it (0 % is nearer than 100 %), 60 % is it
    double one = CalibrateCommand.modelNameThreshold(new double[] {0.42}, 0.01);
    assertTrue(one > 0.42, "α " + one);
    assertTrue(CalibrateCommand.modelNameThreshold(new double[] {0.42}, 0.6) <= 0.42);
    // three prompts, 20 % asked: one of three (33 %), nearer than none
    double[] three = {0.1, 0.5, 0.9};
    double a3 = CalibrateCommand.modelNameThreshold(three, 0.2);
    assertEquals(1, java.util.Arrays.stream(three).filter(x -> x >= a3).count(), "α " + a3);
  }

  @Test
  void aBudgetSweepPassesRuleValuesWithFewDecimals() {
    // 0.3 is a hair under 0.3 in binary: the next name above it was 0.3 itself, and the sweep never moved on
    double[][] acceptance = {{0, 0.3}, {0, 0.6}};
    double[][] cost = {{10, 1}, {10, 1}};
    CalibrateCommand.Budget budget = org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(
        java.time.Duration.ofSeconds(10), () -> CalibrateCommand.cheapestWithin(acceptance, cost, 5.5));
    assertEquals(0.30001, budget.alpha(), 1e-12);
    assertEquals(5.5, budget.usdPerPrompt(), 1e-12);
  }

  @Test
  void theTableTheShareAndTheBudgetAreWhatServeDecides() throws Exception {
    Path config = tmp.resolve("ladder.yaml");
    Files.writeString(config, UPSTREAMS);
    LearnedRoutersEndToEndTest.Run table = run(List.of("calibrate", "--config", config.toString(), "--router", "mf",
        "--input", PROMPTS.toString(), "--quiet"));
    assertEquals(0, table.code(), table.err());
    // α, then strong / mini / weak shares (the ladder by price: llama at 0.4 is below mini at 0.75), then cost
    Matcher row = Pattern.compile("(?m)^\\s*([0-9.]+)\\s+([0-9.]+)%\\s+([0-9.]+)%\\s+([0-9.]+)%\\s+([0-9.]+)$")
        .matcher(table.out());
    List<double[]> rows = new ArrayList<>();
    while (row.find()) {
      rows.add(new double[] {d(row.group(1)), d(row.group(2)), d(row.group(3)), d(row.group(4)), d(row.group(5))});
    }
    assertEquals(11, rows.size(), table.out());
    assertTrue(table.out().contains("strong (gpt-4o-2024-05-13), mini (gpt-4o-mini-2024-07-18), weak"), table.out());
    assertEquals(100.0, rows.get(0)[1], 1e-9, "α = 0 sends everything to strong");
    for (int i = 0; i < rows.size(); i++) {
      double[] r = rows.get(i);
      assertEquals(100.0, r[1] + r[2] + r[3], 0.2, "shares add up at α " + r[0]);
      if (i > 0) {
        assertTrue(r[1] <= rows.get(i - 1)[1], "raising α never sends more to strong: " + table.out());
      }
    }
    double dearest = rows.get(0)[4];
    double cheapest = rows.get(rows.size() - 1)[4];
    assertTrue(dearest > 5 * cheapest, table.out());
    double budget = Math.sqrt(dearest * cheapest);

    LearnedRoutersEndToEndTest.Run asked = run(List.of("calibrate", "--config", config.toString(), "--router", "mf",
        "--input", PROMPTS.toString(), "--strong-percent", "25", "--usd-per-1k", Double.toString(budget), "--quiet"));
    assertEquals(0, asked.code(), asked.err());
    double shareAlpha = alpha(asked.out(), "For 25.0% of calls to strong for mf, threshold = ([0-9.]+)");
    double budgetAlpha = alpha(asked.out(), "Within [0-9.]+ USD per 1k prompts for mf, threshold = ([0-9.]+)");
    assertTrue(asked.out().contains("router-mf-" + String.format(java.util.Locale.ROOT, "%.5f", budgetAlpha)), asked.out());

    List<PromptRecord> prompts = PromptFiles.read(PROMPTS);
    try (Embedders embedders = new Embedders(EmbeddingSettings.defaults());
        Routewise serve = Routewise.start(TestConfigs.config("server: {host: 127.0.0.1, port: 0}\n" + UPSTREAMS),
            RouterCatalog.standard(), embedders, () -> {})) {
      WordPieceTokenizer tokenizer = WordPieceTokenizer.of(EmbeddingModel.MINILM_L6_Q);
      String[] atShare = route(serve, prompts, shareAlpha);
      long strong = java.util.Arrays.stream(atShare).filter("strong"::equals).count();
      assertTrue(Math.abs(strong - 0.25 * prompts.size()) <= 2, strong + " of " + prompts.size() + " to strong at "
          + shareAlpha + " (25% asked)");
      assertTrue(asked.out().contains("(" + strong + " of " + prompts.size() + " prompts go to strong at it"), asked.out());

      double within = costPer1k(route(serve, prompts, budgetAlpha), prompts, tokenizer, 300);
      assertTrue(within <= budget + 1e-9, within + " USD per 1k at " + budgetAlpha + " over the budget " + budget);
      double below = costPer1k(route(serve, prompts, budgetAlpha - 0.00001), prompts, tokenizer, 300);
      assertTrue(below > budget, "the α is the smallest within the budget: at 0.00001 less, " + below + " <= " + budget);
    }
  }

  /**
   * Without output tokens llama (0.2 per million in) costs more a prompt than gpt-4o-mini (0.15),
   * though it is lower on the ladder (0.4 against 0.75 in + out): raising α can raise the cost, and
   * the cheapest α is not 1. The budget's α is still the smallest within it, as serve decides.
   */
  @Test
  void aBudgetIsFoundWhereCostRisesWithAlpha() throws Exception {
    Path config = write("ladder.yaml", UPSTREAMS);
    LearnedRoutersEndToEndTest.Run table = run(List.of("calibrate", "--config", config.toString(), "--router", "mf",
        "--input", PROMPTS.toString(), "--output-tokens", "0", "--quiet"));
    assertEquals(0, table.code(), table.err());
    List<double[]> rows = rows(table.out());
    double least = rows.stream().mapToDouble(r -> r[r.length - 1]).min().orElseThrow();
    double atOne = rows.get(rows.size() - 1)[rows.get(0).length - 1];
    assertTrue(least < atOne, "the fixture must make α = 1 dearer than some lower α: " + table.out());
    double budget = (least + atOne) / 2;
    LearnedRoutersEndToEndTest.Run asked = run(List.of("calibrate", "--config", config.toString(), "--router", "mf",
        "--input", PROMPTS.toString(), "--output-tokens", "0", "--usd-per-1k", Double.toString(budget), "--quiet"));
    assertEquals(0, asked.code(), asked.out() + asked.err());
    double alpha = alpha(asked.out(), "threshold = ([0-9.]+) \\(use");
    List<PromptRecord> prompts = PromptFiles.read(PROMPTS);
    try (Embedders embedders = new Embedders(EmbeddingSettings.defaults());
        Routewise serve = Routewise.start(TestConfigs.config("server: {host: 127.0.0.1, port: 0}\n" + UPSTREAMS),
            RouterCatalog.standard(), embedders, () -> {})) {
      WordPieceTokenizer tokenizer = WordPieceTokenizer.of(EmbeddingModel.MINILM_L6_Q);
      double within = costPer1k(route(serve, prompts, alpha), prompts, tokenizer, 0);
      assertTrue(within <= budget + 1e-12, within + " at " + alpha + " over " + budget);
      if (alpha > 0) {
        double below = costPer1k(route(serve, prompts, alpha - 0.00001), prompts, tokenizer, 0);
        assertTrue(below > budget, "0.00001 less is within the budget too: " + below + " <= " + budget);
      }
    }
  }

  /**
   * The price-weighted rule with an upstream at strong's own price: where the router predicts it
   * better than strong it takes the prompt at every α (a rule value of -∞), so strong's share has a
   * ceiling. calibrate's shares are serve's, and it says when the share asked is out of reach.
   */
  @Test
  void thePriceWeightedRuleWithATwinAtTheTopsPriceIsServes() throws Exception {
    String yaml = UPSTREAMS.replace("routing: {router: mf, threshold: 0.5}", "routing: {router: mf, threshold: 0.5, "
        + "ladder_rule: price_weighted}").replace("upstreams:\n", "upstreams:\n  twin: {base_url: \"http://127.0.0.1:9/v1\", "
        + "api_key: none, model: claude-3-5-sonnet-20241022, price: {input: 5, output: 15}}\n");
    Path config = write("twin.yaml", yaml);
    LearnedRoutersEndToEndTest.Run table = run(List.of("calibrate", "--config", config.toString(), "--router", "mf",
        "--input", PROMPTS.toString(), "--strong-percent", "100", "--quiet"));
    assertEquals(0, table.code(), table.err());
    assertTrue(table.out().contains("ladder rule price_weighted; upstreams, most capable first: strong (gpt-4o-2024-05-13), "
        + "twin (claude-3-5-sonnet-20241022), mini"), table.out());
    List<double[]> rows = rows(table.out());
    assertEquals(11, rows.size(), table.out());
    List<PromptRecord> prompts = PromptFiles.read(PROMPTS);
    String[] names = {"strong", "twin", "mini", "weak"};
    try (Embedders embedders = new Embedders(EmbeddingSettings.defaults());
        Routewise serve = Routewise.start(TestConfigs.config("server: {host: 127.0.0.1, port: 0}\n" + yaml),
            RouterCatalog.standard(), embedders, () -> {})) {
      for (double[] row : rows) {
        String[] chosen = route(serve, prompts, row[0]);
        for (int i = 0; i < names.length; i++) {
          String name = names[i];
          double share = 100.0 * java.util.Arrays.stream(chosen).filter(name::equals).count() / chosen.length;
          assertEquals(share, row[1 + i], 0.051, name + "'s share at α " + row[0] + ": " + table.out());
        }
      }
      long most = java.util.Arrays.stream(route(serve, prompts, 0)).filter("strong"::equals).count();
      assertEquals(most < prompts.size(), table.out().contains("(at most "), most + " reach strong at α = 0: "
          + table.out());
    }
  }

  /** The table's rows: α, then each upstream's share in percent, then the cost when there is one. */
  private static List<double[]> rows(String out) {
    List<double[]> rows = new ArrayList<>();
    for (String line : out.split("\n")) {
      String[] f = line.trim().split("\\s+");
      if (f.length < 3 || !f[0].matches("[0-9.]+") || !f[1].endsWith("%")) {
        continue;
      }
      double[] r = new double[f.length];
      for (int i = 0; i < f.length; i++) {
        r[i] = d(f[i].replace("%", ""));
      }
      rows.add(r);
    }
    return rows;
  }

  @Test
  void aBudgetNeedsEveryUpstreamPricedAndAConfig() throws Exception {
    Path config = tmp.resolve("unpriced.yaml");
    Files.writeString(config, UPSTREAMS.replace(", price: {input: 0.15, output: 0.6}", ""));
    LearnedRoutersEndToEndTest.Run r = run(List.of("calibrate", "--config", config.toString(), "--router", "mf",
        "--input", PROMPTS.toString(), "--usd-per-1k", "1", "--quiet"));
    assertEquals(2, r.code(), r.out());
    assertTrue(r.err().contains("none on: mini"), r.err());

    LearnedRoutersEndToEndTest.Run noConfig = run(List.of("calibrate", "--router", "mf", "--input", PROMPTS.toString(),
        "--usd-per-1k", "1", "--quiet"));
    assertEquals(2, noConfig.code());
    assertTrue(noConfig.err().contains("--usd-per-1k needs --config"), noConfig.err());

    LearnedRoutersEndToEndTest.Run unreachable = run(List.of("calibrate", "--config",
        write("priced.yaml", UPSTREAMS).toString(), "--router", "mf", "--input", PROMPTS.toString(), "--usd-per-1k",
        "0.000001", "--quiet"));
    assertEquals(1, unreachable.code(), unreachable.out());
    assertTrue(unreachable.out().contains("Out of reach: at every α these prompts cost more than"), unreachable.out());
  }

  /** calibrate and eval --prices take the same cost flags and refuse the same bad ones. */
  @Test
  void bothCommandsRefuseANegativeAnswerLengthAndAnUnknownTokenizer() throws Exception {
    String priced = write("priced-flags.yaml", UPSTREAMS).toString();
    for (List<String> bad : List.of(List.of("--output-tokens", "-1"), List.of("--token-model", "nope"))) {
      String flag = bad.get(0);
      LearnedRoutersEndToEndTest.Run c = run(java.util.stream.Stream.concat(java.util.stream.Stream.of("calibrate", "--config", priced,
          "--router", "length", "--input", PROMPTS.toString(), "--quiet"), bad.stream()).toList());
      assertEquals(2, c.code(), c.out());
      assertTrue(c.err().contains(flag), c.err());
      LearnedRoutersEndToEndTest.Run e = run(java.util.stream.Stream.concat(java.util.stream.Stream.of("eval", "--router", "length",
          "--bench", PROMPTS.toString(), "--prices", "src/test/resources/fixtures/synthetic-prices.json", "--strong",
          "strong-model", "--weak", "weak-model", "--models", "mid-model", "--quiet"), bad.stream()).toList());
      assertEquals(2, e.code(), e.out());
      assertTrue(e.err().contains(flag), e.err());
    }
    // a ladder without prices is not quietly evaluated as its two ends
    LearnedRoutersEndToEndTest.Run unpriced = run(List.of("eval", "--router", "length", "--bench", PROMPTS.toString(),
        "--strong", "strong-model", "--weak", "weak-model", "--models", "mid-model", "--quiet"));
    assertEquals(2, unpriced.code(), unpriced.out());
    assertTrue(unpriced.err().contains("--models is for a priced ladder: add --prices"), unpriced.err());
    // a model priced above the top is what serve warns of (and never routes to); eval says so too
    LearnedRoutersEndToEndTest.Run dear = run(List.of("eval", "--router", "length", "--bench", PROMPTS.toString(),
        "--prices", "src/test/resources/fixtures/synthetic-prices.json", "--strong", "mid-model", "--weak", "weak-model",
        "--models", "strong-model", "--quiet"));
    assertEquals(0, dear.code(), dear.err());
    assertTrue(dear.err().contains("note: upstream strong-model is priced above strong"), dear.err());
  }

  /**
   * eval --config: the config's ladder and prices, each upstream under the id label writes it as; the
   * same table as --prices. It calls no upstream, so a key left unset is no matter (review).
   */
  @Test
  void evalOnAConfigsLadderIsEvalOnTheSameModelsAndPrices() throws Exception {
    Path config = write("synthetic.yaml", """
        upstreams:
          strong: {base_url: "http://127.0.0.1:9/v1", api_key: "${ROUTEWISE_TEST_UNSET_KEY}", model: strong-model, price: {input: 10, output: 30}}
          mid: {base_url: "http://127.0.0.1:9/v1", api_key: none, model: mid-model, price: {input: 1, output: 3}}
          weak: {base_url: "http://127.0.0.1:9/v1", api_key: none, model: weak-model, price: {input: 0.1, output: 0.3}}
        routers: {length: {}}
        """);
    LearnedRoutersEndToEndTest.Run byConfig = run(List.of("eval", "--config", config.toString(), "--models-dir",
        tmp.toString(), "--router", "length", "--bench", PROMPTS.toString(), "--quiet"));
    assertEquals(0, byConfig.code(), byConfig.err());
    assertTrue(byConfig.err().contains("ladder of " + config + ": strong as strong-model > mid as mid-model > weak as weak-model"),
        byConfig.err());
    LearnedRoutersEndToEndTest.Run byPrices = run(List.of("eval", "--router", "length", "--bench", PROMPTS.toString(),
        "--prices", "src/test/resources/fixtures/synthetic-prices.json", "--strong", "strong-model", "--weak", "weak-model",
        "--models", "mid-model", "--quiet"));
    assertEquals(0, byPrices.code(), byPrices.err());
    String tables = byPrices.out().substring(byPrices.out().indexOf("single models"));
    assertEquals(tables, byConfig.out().substring(byConfig.out().indexOf("single models")));
    // flash-like below a 0.2/0.2 model by input + output price, dearer per prompt with 300 output tokens: said
    Path crossed = write("crossed.yaml", Files.readString(config).replace("price: {input: 1, output: 3}",
        "price: {input: 0.2, output: 0.2}").replace("price: {input: 0.1, output: 0.3}", "price: {input: 0.075, output: 0.3}"));
    LearnedRoutersEndToEndTest.Run note = run(List.of("eval", "--config", crossed.toString(), "--models-dir",
        tmp.toString(), "--router", "length", "--bench", PROMPTS.toString(), "--quiet"));
    assertEquals(0, note.code(), note.err());
    assertTrue(note.err().contains("note: weak-model is below mid-model on the ladder (order price 0.375 < 0.400)"
        + " but costs more per prompt here"), note.err());
    // weighed as this traffic is (short prompts, 300-token answers), the ladder orders them as their cost does
    Path mixed = write("mixed.yaml", Files.readString(crossed).replace("routers: {length: {}}",
        "routing: {token_mix: {input: 1, output: 3}}\nrouters: {length: {}}"));
    LearnedRoutersEndToEndTest.Run weighed = run(List.of("eval", "--config", mixed.toString(), "--models-dir",
        tmp.toString(), "--router", "length", "--bench", PROMPTS.toString(), "--quiet"));
    assertEquals(0, weighed.code(), weighed.err());
    assertTrue(weighed.err().contains("strong as strong-model > weak as weak-model > mid as mid-model"), weighed.err());
    assertFalse(weighed.err().contains("costs more per prompt here"), weighed.err());
    LearnedRoutersEndToEndTest.Run flag = run(List.of("eval", "--config", crossed.toString(), "--models-dir",
        tmp.toString(), "--router", "length", "--bench", PROMPTS.toString(), "--token-mix", "1:3", "--quiet"));
    assertEquals(weighed.out().substring(weighed.out().indexOf("single models")),
        flag.out().substring(flag.out().indexOf("single models")), "--token-mix: the same as the config's");
    LearnedRoutersEndToEndTest.Run bad = run(List.of("eval", "--config", crossed.toString(), "--models-dir",
        tmp.toString(), "--router", "length", "--bench", PROMPTS.toString(), "--token-mix", "0:0", "--quiet"));
    assertEquals(2, bad.code(), bad.err());
    assertFalse(byConfig.err().contains("costs more per prompt here"), byConfig.err());
    Files.writeString(config, Files.readString(config).replace(", price: {input: 1, output: 3}", ""));
    LearnedRoutersEndToEndTest.Run unpriced = run(List.of("eval", "--config", config.toString(), "--models-dir",
        tmp.toString(), "--router", "length", "--bench", PROMPTS.toString(), "--quiet"));
    assertEquals(2, unpriced.code(), unpriced.err());
    assertTrue(unpriced.err().contains("upstreams.mid has no price"), unpriced.err());
    // two upstreams without prices, as the shipped config: the two-model table (the README's line failed on it)
    Path two = write("two.yaml", """
        upstreams:
          strong: {base_url: "http://127.0.0.1:9/v1", api_key: none, model: strong-model}
          weak: {base_url: "http://127.0.0.1:9/v1", api_key: none, model: weak-model}
        routers: {length: {}}
        """);
    LearnedRoutersEndToEndTest.Run twoWay = run(List.of("eval", "--config", two.toString(), "--models-dir",
        tmp.toString(), "--router", "length", "--bench", PROMPTS.toString(), "--quiet"));
    assertEquals(0, twoWay.code(), twoWay.err());
    assertTrue(twoWay.err().contains("strong as strong-model against weak as weak-model"), twoWay.err());
    LearnedRoutersEndToEndTest.Run named = run(List.of("eval", "--router", "length", "--bench", PROMPTS.toString(),
        "--strong", "strong-model", "--weak", "weak-model", "--quiet"));
    assertEquals(named.out(), twoWay.out(), "the same table as --strong/--weak");
  }

  private Path write(String name, String text) throws Exception {
    Path p = tmp.resolve(name);
    Files.writeString(p, text);
    return p;
  }

  /** Each prompt's upstream as {@code POST /v1/route} names it at α. */
  private static String[] route(Routewise serve, List<PromptRecord> prompts, double alpha) throws Exception {
    HttpClient http = HttpClient.newHttpClient();
    String model = "router-mf-" + String.format(java.util.Locale.ROOT, "%.5f", alpha);
    String[] out = new String[prompts.size()];
    for (int i = 0; i < out.length; i++) {
      String body = JSON.writeValueAsString(Map.of("model", model,
          "messages", List.of(Map.of("role", "user", "content", prompts.get(i).prompt()))));
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + serve.port() + "/v1/route"))
          .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
          HttpResponse.BodyHandlers.ofString());
      assertEquals(200, r.statusCode(), r.body());
      JsonNode n = JSON.readTree(r.body());
      out[i] = n.get("upstream").asText();
    }
    return out;
  }

  /** The stated cost: input tokens (MiniLM's tokenizer, [CLS] and [SEP] counted) plus the assumed output tokens. */
  private static double costPer1k(String[] upstreams, List<PromptRecord> prompts, WordPieceTokenizer tokenizer,
      int outputTokens) {
    double sum = 0;
    for (int i = 0; i < upstreams.length; i++) {
      double[] price = PRICES.get(upstreams[i]);
      sum += ((tokenizer.count(prompts.get(i).prompt()) + 2) * price[0] + outputTokens * price[1]) / 1e6;
    }
    return sum / upstreams.length * 1000;
  }

  private static double alpha(String out, String regex) {
    Matcher m = Pattern.compile(regex).matcher(out);
    assertTrue(m.find(), out);
    return d(m.group(1));
  }

  private static double d(String s) {
    return Double.parseDouble(s);
  }
}
