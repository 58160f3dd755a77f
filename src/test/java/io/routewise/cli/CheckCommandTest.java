package io.routewise.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.SocketTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code routewise check}: serve's start-up checks without serving. A good config exits 0 with a
 * summary; a bad one exits 2 with exactly what serve says of it; nothing is bound or contacted.
 */
class CheckCommandTest {
  @TempDir
  Path tmp;

  private Path write(String yaml) throws Exception {
    Path config = tmp.resolve("config.yaml");
    Files.writeString(config, yaml);
    return config;
  }

  private static String ladder(String url) {
    return """
        server: {host: 127.0.0.1, port: 0}
        upstreams:
          strong: {base_url: "%1$s", api_key: none, model: gpt-4o, price: {input: 2.5, output: 10}}
          mini: {base_url: "%1$s", api_key: none, model: gpt-4o-mini, price: {input: 0.15, output: 0.6}}
          weak: {base_url: "%1$s", api_key: none, model: llama3.1:8b, price: {input: 0, output: 0}}
        routing: {router: mf, threshold: 0.5}
        """.formatted(url);
  }

  /** From serve's or check's stderr, what it says of the problem (log lines before it left out). */
  private static String problem(String err) {
    int at = err.indexOf("routewise: ");
    return at < 0 ? "(no problem said) " + err : err.substring(at).strip();
  }

  /** Check refuses {@code yaml} with exit 2 and the message serve gives for it, which contains {@code expected}. */
  private void refusedAsServeRefuses(String yaml, String expected) throws Exception {
    refusedAsServeRefuses(write(yaml), expected);
  }

  private void refusedAsServeRefuses(Path config, String expected) throws Exception {
    LearnedRoutersEndToEndTest.Run check = LearnedRoutersEndToEndTest.run(List.of("check", "--config", config.toString()));
    assertEquals(2, check.code(), check.out() + check.err());
    assertEquals("", check.out(), "no summary for a config that does not start");
    assertTrue(problem(check.err()).contains(expected), check.err());
    assertFalse(check.err().contains("\tat "), "no stack trace: " + check.err());
    LearnedRoutersEndToEndTest.Run serve = LearnedRoutersEndToEndTest.run(List.of("serve", "--config", config.toString()));
    assertEquals(2, serve.code(), serve.err());
    assertEquals(problem(serve.err()), problem(check.err()));
  }

  /**
   * The problem line named the key but not the file: an operator checking several configs in CI (one
   * per environment) could not tell which one failed. It names the file, once.
   */
  @Test
  void aProblemNamesTheConfigFile() throws Exception {
    Path config = write(ladder("http://127.0.0.1:1/v1").replace("threshold: 0.5", "threshold: 2"));
    refusedAsServeRefuses(config, "routewise: Invalid configuration in " + config + ": routing.threshold: must be in [0, 1]");
    Path absent = tmp.resolve("absent.yaml");
    LearnedRoutersEndToEndTest.Run r = LearnedRoutersEndToEndTest.run(List.of("check", "--config", absent.toString()));
    assertEquals("routewise: Invalid configuration in " + absent + ": file not found", problem(r.err()));
  }

  /**
   * The other commands that read a --config (calibrate, label, score, eval, replay) said its problem
   * without the file, as serve and check did before they named it: a script labelling with one config
   * and calibrating with another could not tell which was wrong.
   */
  @Test
  void theOtherCommandsNameTheConfigFileToo() throws Exception {
    Path config = write(ladder("http://127.0.0.1:1/v1").replace("threshold: 0.5", "threshold: 2"));
    Path prompts = tmp.resolve("prompts.jsonl");
    Files.writeString(prompts, "{\"id\":\"a\",\"prompt\":\"hi\"}\n");
    List<List<String>> commands = List.of(
        List.of("calibrate", "--config", config.toString(), "--router", "random", "--input", prompts.toString(),
            "--strong-percent", "50"),
        List.of("label", "--config", config.toString(), "--judge", "strong", "--input", prompts.toString(),
            "--output", tmp.resolve("labels.jsonl").toString()));
    for (List<String> args : commands) {
      LearnedRoutersEndToEndTest.Run r = LearnedRoutersEndToEndTest.run(args);
      assertEquals(2, r.code(), r.out() + r.err());
      assertTrue(r.err().contains("routewise " + args.get(0) + ": Invalid configuration in " + config
          + ": routing.threshold: must be in [0, 1]"), r.err());
    }
  }

  @Test
  void aGoodConfigExitsZeroWithASummaryOfWhatWouldBeServed() throws Exception {
    Path config = write(ladder("http://127.0.0.1:1/v1").replace("port: 0}", "port: 0, api_keys: {batch: {keys: [sk-b1, "
        + "sk-b2], budget: {usd: 50}, rate_limit: {requests: 600}, models: [\"router-*\"]}, ui: sk-ui}}").replace("output: 0.6}",
        "output: 0.6, cached_input: 0.075, cache_write: 0.1875}") + """
        state: {redis: "redis://127.0.0.1:1/0"}
        routers:
          length: {}
          mf:
            target: {strong_share: 0.3, window_s: 120}
        """);
    LearnedRoutersEndToEndTest.Run r = LearnedRoutersEndToEndTest.run(List.of("check", "--config", config.toString()));
    assertEquals(0, r.code(), r.err());
    String out = r.out();
    assertTrue(out.startsWith(config + ": OK, serve would listen on 127.0.0.1:0"), out);
    assertTrue(out.contains("  strong: gpt-4o, $2.5/$10.0 per M tokens in/out, at http://127.0.0.1:1/v1\n"
        + "  mini: gpt-4o-mini, $0.15/$0.6 per M tokens in/out ($0.075 cached in, $0.1875 cache write), at http://127.0.0.1:1/v1\n"
        + "  weak: llama3.1:8b, $0.0/$0.0 per M tokens in/out, at http://127.0.0.1:1/v1\n"), out);
    assertTrue(out.contains("routers loaded (default mf at 0.5, ladder rule auto):\n  random\n  length\n  mf from "
        + Path.of("models", "mf") + "\n"), out);
    assertTrue(out.contains("embedding: minilm-l6-static\n"), out);
    assertTrue(out.contains("targets: router-mf-auto holds strong_share = 0.3 over 120 s\n"), out);
    assertTrue(out.contains("clients: batch (2 keys, budget 50.0 USD per day, 600 requests per minute, models router-*), ui\n"), out);
    assertTrue(out.contains("state: redis at 127.0.0.1:1, shared\n"), out);
  }

  @Test
  void aYamlErrorIsServesProblem() throws Exception {
    refusedAsServeRefuses(ladder("http://127.0.0.1:1/v1") + "routers: {mf: {}\n", "not valid YAML");
  }

  @Test
  void anUnknownKeyIsServesProblem() throws Exception {
    refusedAsServeRefuses(ladder("http://127.0.0.1:1/v1") + "routers: {mf: {}}\nrouting_typo: 1\n",
        "routing_typo: unknown key");
  }

  @Test
  void aRouterModelDirThatDoesNotExistIsServesProblem() throws Exception {
    Path missing = tmp.resolve("no-such-model");
    refusedAsServeRefuses(ladder("http://127.0.0.1:1/v1") + "routers: {mf: {model_dir: \"" + missing + "\"}}\n",
        "routers.mf: cannot load router");
  }

  @Test
  void anUpstreamNoRouterCanPlaceIsServesProblem() throws Exception {
    refusedAsServeRefuses(ladder("http://127.0.0.1:1/v1").replace("model: gpt-4o-mini", "model: my-private-finetune")
        + "routers: {mf: {}}\n", "cannot place upstreams.mini (model 'my-private-finetune')");
  }

  @Test
  void anIpv6ListenAddressIsWrittenInBrackets() throws Exception {
    // "::1:6060" and ":::6060" read as addresses, not as an address and a port; serve's listening line and its
    // bind problems write it as check does
    Path config = write(ladder("http://127.0.0.1:1/v1").replace("host: 127.0.0.1, port: 0", "host: '::1', port: 6060")
        .replace("router: mf", "router: random"));
    LearnedRoutersEndToEndTest.Run r = LearnedRoutersEndToEndTest.run(List.of("check", "--config", config.toString()));
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("serve would listen on [::1]:6060 "), r.out());
    String why = ServeCommand.listenProblem(new java.net.BindException("Address already in use"), "::", 6060);
    assertTrue(why.startsWith("cannot listen on [::]:6060 "), why);
    r = LearnedRoutersEndToEndTest.run(List.of("check", "--config", write(ladder("http://127.0.0.1:1/v1")
        .replace("host: 127.0.0.1, port: 0", "host: '::', port: 6060").replace("router: mf", "router: random"))
        .toString()));
    assertTrue(r.err().contains("no server.api_keys and listening on [::], not only loopback"), r.err());
  }

  @Test
  void bindsNoPortAndContactsNoUpstreamJudgeOrRedis() throws Exception {
    try (ServerSocket taken = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      // the port serve would listen on is taken, and every upstream, the judge and Redis are this socket,
      // which would see any connection made to them
      String at = "127.0.0.1:" + taken.getLocalPort();
      Path config = write(ladder("http://" + at + "/v1").replace("port: 0", "port: " + taken.getLocalPort()) + """
          state: {redis: "redis://%1$s/0"}
          routers:
            mf: {target: {strong_share: 0.3}}
            causal_llm: {base_url: "http://%1$s/v1", api_key: none, model: judge}
          """.formatted(at));
      LearnedRoutersEndToEndTest.Run r = LearnedRoutersEndToEndTest.run(List.of("check", "--config", config.toString()));
      assertEquals(0, r.code(), r.err());
      assertTrue(r.out().contains("serve would listen on " + at), r.out());
      assertTrue(r.out().contains("  causal_llm asking judge at http://" + at + "/v1\n"), r.out());
      taken.setSoTimeout(300);
      assertThrows(SocketTimeoutException.class, taken::accept, "check connected to an upstream, the judge or Redis");
    }
  }
}
