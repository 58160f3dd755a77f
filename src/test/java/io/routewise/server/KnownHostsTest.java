package io.routewise.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class KnownHostsTest {
  @Test
  void aHostIsItsNameLessPortAndFinalDot() {
    assertEquals("evil.example", KnownHosts.name("Evil.Example.:8080"));
    assertEquals("[::1]", KnownHosts.name("[::1]:6060"));
    assertEquals("localhost", KnownHosts.name("localhost"));
  }

  @Test
  void listedNamesAndWildcardsAreKnownButNotTheWildcardsOwnDomain() {
    KnownHosts hosts = new KnownHosts(List.of("router.example.com", "*.corp.example"), List.of("https://*.app.example"));
    assertTrue(hosts.knows("router.example.com:443"));
    assertTrue(hosts.knows("a.b.corp.example"));
    assertTrue(hosts.knows("x.app.example"));
    assertFalse(hosts.knows("corp.example"));
    assertFalse(hosts.knows("evilcorp.example"));
    assertFalse(hosts.knows("router.example.com.evil.test"));
    assertFalse(hosts.knows("1.2.3.4.nip.io"));
  }

  /** An extension's or an app's origin names no host a page is served from over HTTP: listing one knows no name. */
  @Test
  void anExtensionOrAppOriginAddsNoHost() {
    KnownHosts hosts = new KnownHosts(List.of(), List.of("app://obsidian.md", "moz-extension://a.example.com"));
    assertFalse(hosts.knows("obsidian.md"));
    assertFalse(hosts.knows("a.example.com"));
  }

  /** nginx's default Host is routewise's own address, always known: the name the proxy was asked for must be known too (a trial). */
  @Test
  void theHostAProxyInFrontWasAskedForMustBeKnownToo() {
    KnownHosts hosts = new KnownHosts(List.of("router.example.com"), List.of());
    assertEquals(null, hosts.unknownOf("127.0.0.1:6060", null, null));
    assertEquals(null, hosts.unknownOf("127.0.0.1:6060", enumeration("router.example.com"),
        enumeration("for=1.2.3.4;host=\"router.example.com\";proto=https")));
    assertEquals("evil.test", hosts.unknownOf("127.0.0.1:6060", enumeration("router.example.com, evil.test"), null));
    assertEquals("evil.test:80", hosts.unknownOf("127.0.0.1", null, enumeration("for=1.2.3.4, Host=evil.test:80;proto=http")));
    assertEquals("evil.test", hosts.unknownOf("evil.test", enumeration("router.example.com"), null));
  }

  private static java.util.Enumeration<String> enumeration(String... values) {
    return java.util.Collections.enumeration(List.of(values));
  }

  /** A review: names in another Kubernetes namespace and on a home network were refused; a quoted Forwarded value was read generously. */
  @Test
  void privateSuffixesAreKnownAndOddValuesAreNot() {
    KnownHosts hosts = new KnownHosts(List.of(), List.of());
    for (String name : new String[] {"routewise.default.svc", "routewise.default.svc.cluster.local", "nas.home.arpa",
        "box.lan", "host.docker.internal", "app.localhost", "mac.local"}) {
      assertTrue(hosts.knows(name), name);
    }
    assertTrue(hosts.knows("[::1]:6060"));
    assertTrue(hosts.knows("[fe80::1%25eth0]"));
    for (String name : new String[] {"routewise.default", "evil.com", "a\"b", "a b.example", "a;evil.com", "[evil.example",
        "[evil.example]"}) {
      assertFalse(hosts.knows(name), name);
    }
    assertEquals("a;evil.com", hosts.unknownOf("localhost", null, enumeration("for=1.2.3.4;host=\"a;evil.com\"")));
    assertEquals(null, hosts.unknownOf("localhost", null, enumeration("for=\"[::1]:80\";host=\"box.lan\", for=2.3.4.5")));
  }

  /**
   * A quote left open swallowed the rest of the value, a {@code host=} in it included: a rebinding page
   * (same-origin, so no preflight) may send its own {@code Forwarded: for="x}, and a proxy in front that
   * appends its element to the value ({@code , for=...;host=evil.test}) had its host go unread (a review).
   */
  @Test
  void aQuoteLeftOpenInForwardedHidesNoHost() {
    KnownHosts hosts = new KnownHosts(List.of(), List.of());
    assertEquals("for=\"x, for=1.2.3.4;host=evil.test",
        hosts.unknownOf("127.0.0.1", null, enumeration("for=\"x, for=1.2.3.4;host=evil.test")));
    assertEquals("for=\"x\\\", for=1.2.3.4;host=evil.test",
        hosts.unknownOf("127.0.0.1", null, enumeration("for=\"x\\\", for=1.2.3.4;host=evil.test")));
    assertEquals(null, hosts.unknownOf("127.0.0.1", null, enumeration("for=\"x\\\"y\";host=localhost")));
  }

  @Test
  void aRefusalIsLoggedAtMostOnceAMinute() {
    KnownHosts hosts = new KnownHosts(List.of(), List.of());
    assertTrue(hosts.warnNow(-5));
    assertFalse(hosts.warnNow(1_000_000_000L));
    assertTrue(hosts.warnNow(60_000_000_000L));
    assertFalse(hosts.warnNow(61_000_000_000L));
  }
}
