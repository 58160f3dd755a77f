package io.routewise.routers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.routewise.config.ConfigNode;
import io.routewise.config.ConfigProblems;
import io.routewise.config.Secret;
import io.routewise.config.UpstreamConfig;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** How a learned router finds the trained model standing for each upstream (the shipped models/mf). */
class ModelDirPlacementTest {
  private static UpstreamConfig upstream(String name, String model, String routerModel) {
    return new UpstreamConfig(name, URI.create("http://x"), Secret.of("none"), model, Duration.ofSeconds(1),
        Duration.ofSeconds(1), Map.of(), null, routerModel);
  }

  private static RouterContext context(Map<String, Object> settings, UpstreamConfig... upstreams) {
    return new RouterContext("mf", new ConfigNode("routers.mf", settings, new ConfigProblems()), Path.of("models"),
        id -> null, List.of(upstreams));
  }

  @Test
  void upstreamsArePlacedByRouterModelElseByModelAndStrongAndWeakKeepTheirDefaults() throws IOException {
    ModelDir md = ModelDir.open(Path.of("models/mf"), "mf");
    Map<String, String> placed = md.placeUpstreams(context(Map.of(),
        upstream("strong", "gpt-4o", null),
        upstream("sonnet", "claude", "claude-3-5-sonnet-20241022"),
        upstream("mini", "gpt-4o-mini-2024-07-18", null),
        upstream("weak", "llama3.1:8b", null)));
    assertEquals(List.of("strong", "sonnet", "mini", "weak"), List.copyOf(placed.keySet()), "in ladder order");
    assertEquals("gpt-4o-2024-05-13", placed.get("strong"), "not a trained id: the manifest's default, as before");
    assertEquals("claude-3-5-sonnet-20241022", placed.get("sonnet"));
    assertEquals("gpt-4o-mini-2024-07-18", placed.get("mini"));
    assertEquals("llama-3.1-8b-instruct", placed.get("weak"));
  }

  @Test
  void routerModelOnStrongWinsOverItsModelAndTheRoutersOwnSettingWinsOverBoth() throws IOException {
    ModelDir md = ModelDir.open(Path.of("models/mf"), "mf");
    UpstreamConfig strong = upstream("strong", "gpt-4o-2024-05-13", "o1-mini-2024-09-12");
    UpstreamConfig weak = upstream("weak", "x", null);
    assertEquals("o1-mini-2024-09-12", md.placeUpstreams(context(Map.of(), strong, weak)).get("strong"));
    assertEquals("grok-2-1212",
        md.placeUpstreams(context(Map.of("strong_model", "grok-2-1212"), strong, weak)).get("strong"));
  }

  @Test
  void anUpstreamItCannotPlaceStopsTheStartNamingItAndListingTheKnownIds() throws IOException {
    ModelDir md = ModelDir.open(Path.of("models/mf"), "mf");
    IOException e = assertThrows(IOException.class, () -> md.placeUpstreams(context(Map.of(),
        upstream("strong", "gpt-4o", null), upstream("mini", "gpt-4o-mini-fast", null),
        upstream("local", "phi3:mini", null), upstream("weak", "llama3.1:8b", null))));
    assertTrue(e.getMessage().contains("upstreams.mini (model 'gpt-4o-mini-fast'), upstreams.local (model 'phi3:mini')"),
        e.getMessage());
    assertTrue(e.getMessage().contains("set router_model on each to one of: ") && e.getMessage().contains("gpt-4o-mini-2024-07-18"),
        e.getMessage());
    IOException typo = assertThrows(IOException.class, () -> md.placeUpstreams(context(Map.of(),
        upstream("strong", "gpt-4o", null), upstream("mini", "gpt-4o-mini", "gpt-4o-mini-2024"),
        upstream("weak", "llama3.1:8b", null))));
    assertTrue(typo.getMessage().startsWith("upstreams.mini.router_model 'gpt-4o-mini-2024' is not a model of"),
        typo.getMessage());
    // a letter left out: the fix is named, before the sorted list of the rest
    IOException letter = assertThrows(IOException.class, () -> md.placeUpstreams(context(Map.of(),
        upstream("strong", "gpt-4o", null), upstream("local", "llama3.1:8b", "llama-3.1-8b-instruc"),
        upstream("weak", "llama3.1:8b", null))));
    assertTrue(letter.getMessage().contains("; did you mean llama-3.1-8b-instruct?; it knows: "), letter.getMessage());
    List<String> listed = List.of(letter.getMessage().substring(letter.getMessage().indexOf("it knows: ") + 10).split(", "));
    assertEquals(listed.stream().sorted().toList(), listed, "sorted, so an id is found by eye");
    IOException setting = assertThrows(IOException.class, () -> md.upstreamModel(context(
        Map.of("strong_model", "gpt-4o-2024-05-31"), upstream("strong", "gpt-4o", null),
        upstream("weak", "llama3.1:8b", null)), true));
    assertTrue(setting.getMessage().contains("did you mean gpt-4o-2024-05-13"), setting.getMessage());
    IOException unplaced = assertThrows(IOException.class, () -> md.placeUpstreams(context(Map.of(),
        upstream("strong", "gpt-4o", null), upstream("big", "llama-3.1-70b-instrukt", null),
        upstream("weak", "llama3.1:8b", null))));
    assertTrue(unplaced.getMessage().contains("(model 'llama-3.1-70b-instrukt'; ids like it: llama-3.1-70b-instruct"),
        unplaced.getMessage());
  }

  /**
   * A provider's spelling of a trained id places it (case, an "org/" prefix), and so does a name
   * whose one dated snapshot was trained; a name two snapshots share places nothing.
   */
  @Test
  void aModelIsPlacedByItsProviderSpellingOrItsOneDatedSnapshot() throws IOException {
    ModelDir md = ModelDir.open(Path.of("models/mf"), "mf");
    Map<String, String> placed = md.placeUpstreams(context(Map.of(),
        upstream("strong", "anthropic/claude-3-opus", null),
        upstream("mini", "openai/GPT-4o-mini", null),
        upstream("llama", "meta-llama/Llama-3.1-8B-Instruct", null),
        upstream("turbo", "gpt-3.5-turbo", null),
        upstream("weak", "llama3.1:8b", null)));
    assertEquals("claude-3-opus-20240229", placed.get("strong"), "strong by its model too, before the default");
    assertEquals("gpt-4o-mini-2024-07-18", placed.get("mini"));
    assertEquals("llama-3.1-8b-instruct", placed.get("llama"));
    assertEquals("gpt-3.5-turbo", placed.get("turbo"), "a trained id is itself, not one of its snapshots");
    assertEquals("llama-3.1-8b-instruct", placed.get("weak"), "not placeable: the manifest's default");
    List<String> models = md.placeableModels();
    assertEquals(java.util.Optional.of("gpt-4-0314"), ModelDir.canonicalMatch("GPT-4", models));
    assertEquals(java.util.Optional.empty(), ModelDir.canonicalMatch("gpt-4o", models), "two snapshots: 05-13, 08-06");
    assertEquals(java.util.Optional.empty(), ModelDir.canonicalMatch("claude-3-5-sonnet", models));
    assertEquals(java.util.Optional.empty(), ModelDir.canonicalMatch("gpt-4o-mini-2024", models));
    assertEquals(java.util.Optional.empty(), ModelDir.canonicalMatch("openai/", models));
    assertEquals(java.util.Optional.of("Llama-3.1-8B-Instruct"),
        ModelDir.canonicalMatch("meta-llama/llama-3.1-8b-instruct", List.of("Llama-3.1-8B-Instruct")), "case on both sides");
    assertEquals(java.util.Optional.empty(), ModelDir.canonicalMatch("acme/M", List.of("m", "M")), "two by case: neither");
    assertEquals(java.util.Optional.empty(), ModelDir.canonicalMatch("foo", List.of("foo-2407")), "24 is no month");
    assertEquals(java.util.Optional.of("foo-20240229"), ModelDir.canonicalMatch("foo", List.of("foo-20240229", "foo-v2")));
    assertEquals("gpt-4o-2024-05-13", md.upstreamModel(context(Map.of(), upstream("strong", "gpt-4o", null),
        upstream("weak", "llama3.1:8b", null)), true), "an ambiguous strong keeps the default, as before");
  }

  /**
   * A name several trained snapshots share starts on every rung: on the manifest's default when that is
   * one of them (gpt-4o: the snapshot the two-model figures were measured with), else on the newest;
   * "-latest" always the newest.
   */
  @Test
  void aNameSeveralSnapshotsShareIsPlacedOnTheDefaultAmongThemElseTheNewest() throws IOException {
    ModelDir md = ModelDir.open(Path.of("models/mf"), "mf");
    Map<String, String> placed = md.placeUpstreams(context(Map.of(),
        upstream("strong", "anthropic/claude-3-5-sonnet", null),
        upstream("four", "gpt-4o", null),
        upstream("latest", "gpt-4o-latest", null),
        upstream("sonnet", "claude-3-5-sonnet-latest", null),
        upstream("turbo", "gpt-3.5-turbo-latest", null),
        upstream("weak", "llama3.1:8b", null)));
    assertEquals("claude-3-5-sonnet-20241022", placed.get("strong"), "the newest; no longer the default gpt-4o");
    assertEquals("gpt-4o-2024-05-13", placed.get("four"), "the default strong is a gpt-4o snapshot");
    assertEquals("gpt-4o-2024-08-06", placed.get("latest"));
    assertEquals("claude-3-5-sonnet-20241022", placed.get("sonnet"));
    assertEquals("gpt-3.5-turbo", placed.get("turbo"), "a trained id of the name itself");
    List<String> models = md.placeableModels();
    assertEquals(java.util.Optional.of("foo-2024-06-01"),
        ModelDir.snapshotChoice("foo", List.of("foo-20240229", "foo-2024-06-01", "foo-0930", "bar-2025-01-01"), List.of()),
        "dates written either way; a year-less MMDD orders first");
    assertEquals(java.util.Optional.empty(), ModelDir.snapshotChoice("foo-latest", List.of("foo-v2"), List.of()));
    assertEquals(java.util.Optional.empty(), ModelDir.snapshotChoice("gpt-5", models, List.of()));
    assertEquals(java.util.Optional.empty(), ModelDir.canonicalMatch("gpt-4o", models),
        "what label writes outcomes under stays exact: no snapshot chosen for it");
  }

  /** The names serving stacks give the models the data has (operator trial: each stopped the start). */
  @Test
  void aServingStacksNameForATrainedModelPlacesIt() throws IOException {
    ModelDir md = ModelDir.open(Path.of("models/mf"), "mf");
    List<String> models = md.placeableModels();
    Map<String, String> expected = new java.util.LinkedHashMap<>();
    expected.put("meta-llama/Meta-Llama-3.1-70B-Instruct", "llama-3.1-70b-instruct");
    expected.put("meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo", "llama-3.1-70b-instruct");
    expected.put("llama-3.1-70b-versatile", "llama-3.1-70b-instruct");
    expected.put("llama-3.1-8b-instant", "llama-3.1-8b-instruct");
    expected.put("llama3.1:70b", "llama-3.1-70b-instruct");
    expected.put("llama3.1:8b", "llama-3.1-8b-instruct");
    expected.put("qwen2.5:7b", "qwen2.5-7b-instruct");
    expected.put("gemma2:9b", "gemma-2-9b-it");
    expected.put("mistral:7b", "mistral-7b-instruct-v0.3");
    expected.put("mixtral:8x7b", "mixtral-8x7b-instruct-v0.1");
    expected.put("anthropic/claude-3.5-sonnet", "claude-3-5-sonnet-20241022");
    expected.put("llama3.1:8b-instruct-q4_K_M", "llama-3.1-8b-instruct");
    // a base model's name is the base model, which the data has too (review)
    expected.put("meta-llama/Meta-Llama-3.1-8B", "llama-3.1-8b");
    expected.put("Meta-Llama-3-70B", "llama-3-70b");
    expected.put("Meta-Llama-3.1-70B", "llama-3.1-70b");
    expected.put("meta-llama/Llama-2-70b-hf", "llama-2-70b");
    expected.put("meta-llama/Llama-2-70b-chat-hf", "llama-2-70b-chat");
    for (var e : expected.entrySet()) {
      assertEquals(java.util.Optional.of(e.getValue()), ModelDir.servedNameMatch(e.getKey(), models, List.of()), e.getKey());
    }
    // a served chat model the data has only as a base model, and a base model it has only as a chat one:
    // neither is placed on the other (review), so the start asks for router_model
    for (String none : List.of("phi3:mini", "gpt-5", "o3-mini", "llama-4-scout", "llama2:13b", "yi:34b",
        "qwen1.5:110b", "Qwen/Qwen2.5-7B", "google/gemma-2-9b")) {
      assertEquals(java.util.Optional.empty(), ModelDir.servedNameMatch(none, models, List.of()), none);
    }
    Map<String, String> placed = md.placeUpstreams(context(Map.of(),
        upstream("strong", "gpt-4o", null),
        upstream("big", "meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo", null),
        upstream("weak", "llama3.1:8b", null)));
    assertEquals("llama-3.1-70b-instruct", placed.get("big"));
    assertEquals("llama-3.1-8b-instruct", placed.get("weak"), "the shipped config's weak: where its default put it");
  }

  @org.junit.jupiter.api.io.TempDir
  Path tmp;

  @Test
  void aModelSeenOnlyInHeldOutRowsCannotStandForAnUpstream() throws IOException {
    Path dir = java.nio.file.Files.createDirectories(tmp.resolve("mf"));
    var json = ModelDir.json();
    var m = (com.fasterxml.jackson.databind.node.ObjectNode) json.readTree(Path.of("models/mf/manifest.json").toFile());
    m.putArray("untrained_models").add("claude-3-5-sonnet-20241022");
    java.nio.file.Files.writeString(dir.resolve("manifest.json"), json.writeValueAsString(m));
    ModelDir md = ModelDir.open(dir, "mf");
    IOException e = assertThrows(IOException.class, () -> md.placeUpstreams(context(Map.of(),
        upstream("strong", "gpt-4o", null), upstream("sonnet", "claude-3-5-sonnet-20241022", null),
        upstream("weak", "llama3.1:8b", null))));
    assertTrue(e.getMessage().contains("upstreams.sonnet (model 'claude-3-5-sonnet-20241022'"), e.getMessage());
    assertThrows(IOException.class, () -> md.upstreamModel(context(Map.of("strong_model", "claude-3-5-sonnet-20241022"),
        upstream("strong", "gpt-4o", null), upstream("weak", "llama3.1:8b", null)), true));
    assertEquals(md.models().size() - 1, md.placeableModels().size());
  }

  /** Strong or weak placed by spelling warns at start: the same config used to take the manifest's default. */
  @Test
  void placingStrongOrWeakBySpellingIsAWarningAndAMiddleUpstreamOnlyANote() {
    ModelDir.PlacementNote strong = ModelDir.placementNote("strong", "openai/GPT-4o-mini", "mf", "gpt-4o-mini-2024-07-18",
        List.of(), "gpt-4o-2024-05-13");
    assertTrue(strong.warning());
    assertEquals("upstreams.strong: model 'openai/GPT-4o-mini' placed on mf's trained model 'gpt-4o-mini-2024-07-18' "
        + "(set router_model to choose another; routewise before this placement used the manifest's default_strong)",
        strong.text());
    assertTrue(ModelDir.placementNote("weak", "m", "mf", "id", List.of(), "other").warning());
    ModelDir.PlacementNote asBefore = ModelDir.placementNote("strong", "gpt-4o", "mf", "gpt-4o-2024-05-13",
        List.of("gpt-4o-2024-05-13", "gpt-4o-2024-08-06"), "gpt-4o-2024-05-13");
    assertEquals(false, asBefore.warning(), "the manifest's default, as before: nothing changed to warn of");
    assertEquals("upstreams.strong: model 'gpt-4o' placed on mf's trained model 'gpt-4o-2024-05-13', of its snapshots "
        + "gpt-4o-2024-05-13, gpt-4o-2024-08-06 (set router_model to choose another)", asBefore.text());
    ModelDir.PlacementNote mini = ModelDir.placementNote("mini", "gpt-4o-mini", "mf", "gpt-4o-mini-2024-07-18", List.of(), null);
    assertEquals(false, mini.warning(), "a middle upstream had no default to change");
    assertEquals("upstreams.mini: model 'gpt-4o-mini' placed on mf's trained model 'gpt-4o-mini-2024-07-18' "
        + "(set router_model to choose another)", mini.text());
  }
}
