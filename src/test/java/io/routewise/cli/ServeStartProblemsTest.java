package io.routewise.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A start that cannot listen says why in one line and exits 2; it printed a stack trace that blamed the port. */
class ServeStartProblemsTest {
  @TempDir
  Path tmp;

  private Path config(String host) throws Exception {
    Path config = tmp.resolve("config.yaml");
    Files.writeString(config, """
        server: {host: %s, port: 0}
        upstreams:
          strong: {base_url: "http://127.0.0.1:1/v1", api_key: none, model: s}
          weak: {base_url: "http://127.0.0.1:1/v1", api_key: none, model: w}
        routing: {router: random}
        routers: {random: {}}
        """.formatted(host));
    return config;
  }

  @Test
  void aPortOutOfRangeIsRefusedInOneLine() throws Exception {
    LearnedRoutersEndToEndTest.Run r = LearnedRoutersEndToEndTest.run(
        List.of("serve", "--config", config("127.0.0.1").toString(), "--port", "99999"));
    assertEquals(2, r.code(), r.err());
    assertEquals("routewise: --port must be between 0 and 65535, got 99999", r.err().strip());
  }

  @Test
  void aHostThatDoesNotResolveIsNamedNotThePort() throws Exception {
    LearnedRoutersEndToEndTest.Run r = LearnedRoutersEndToEndTest.run(
        List.of("serve", "--config", config("no-such-host.invalid").toString()));
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("server.host 'no-such-host.invalid' does not resolve"), r.err());
    assertFalse(r.err().contains("\tat "), "no stack trace: " + r.err());
  }

  @Test
  void anAddressOfAnotherMachineIsSaidSo() {
    String why = ServeCommand.listenProblem(new RuntimeException(new java.net.BindException("Cannot assign requested address")),
        "10.255.255.1", 6060);
    assertTrue(why.contains("server.host is not an address of this machine"), why);
    assertTrue(ServeCommand.listenProblem(new java.net.BindException("Address already in use"), "0.0.0.0", 6060)
        .contains("is another process using the port?"));
    assertTrue(ServeCommand.listenProblem(new java.net.BindException("Permission denied"), "0.0.0.0", 80)
        .contains("a port below 1024 needs privileges"));
  }
}
