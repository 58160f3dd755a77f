package io.routewise.server;

import io.routewise.config.ServerConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The host names a keyless routewise answers to (see {@code server.allowed_hosts}): addresses,
 * {@code localhost}, names a public DNS cannot give an attacker (one label, as a container's or
 * a Kubernetes service's short name; under {@link ServerConfig#PRIVATE_HOST_SUFFIXES}), the
 * hosts of {@code server.cors_origins}, and those listed ({@code *.example.com} for any name under it). A
 * DNS-rebinding page names a host its owner registered, which none of these is.
 */
final class KnownHosts {
  private final List<String> exact = new ArrayList<>();
  private final List<String> suffixes = new ArrayList<>(); // ".example.com" for "*.example.com"
  private final java.util.concurrent.atomic.AtomicReference<Long> nextWarning = new java.util.concurrent.atomic.AtomicReference<>();

  KnownHosts(List<String> allowedHosts, List<String> corsOrigins) {
    allowedHosts.forEach(this::add);
    for (String origin : corsOrigins) {
      String o = origin.toLowerCase(Locale.ROOT);
      // not "*", which has no host of its own, nor an extension's or an app's (chrome-extension://<id>,
      // app://obsidian.md): no page is served over HTTP from those, so none of them names routewise
      if (o.startsWith("http://") || o.startsWith("https://")) {
        add(origin.substring(origin.indexOf("://") + 3));
      }
    }
  }

  private void add(String host) {
    String name = name(host);
    if (name.startsWith("*.")) {
      suffixes.add(name.substring(1));
    } else {
      exact.add(name);
    }
  }

  /** Whether a request's {@code Host} header is one of these; a request without one is (HTTP/1.0). */
  boolean knows(String hostHeader) {
    if (hostHeader == null || hostHeader.isBlank()) {
      return true;
    }
    String name = name(hostHeader);
    if (name.startsWith("[")) {
      return ipv6(name); // an address: no name to rebind
    }
    if (!plainName(name)) {
      return false; // a quote, a space, a separator: no host a browser names, and not to be read generously
    }
    if (digitsAndDots(name) || name.indexOf('.') < 0 || privateName(name)) {
      return true;
    }
    if (exact.contains(name)) {
      return true;
    }
    for (String suffix : suffixes) {
      if (name.endsWith(suffix) && name.length() > suffix.length()) {
        return true;
      }
    }
    return false;
  }

  /**
   * The first of a request's host names that is not one of these, or null: its {@code Host}, and
   * those a proxy in front named in {@code X-Forwarded-Host} (comma-separated) and {@code Forwarded}'s
   * {@code host=} parameters.
   */
  String unknownOf(String host, java.util.Enumeration<String> forwardedHost, java.util.Enumeration<String> forwarded) {
    if (!knows(host)) {
      return host;
    }
    while (forwardedHost != null && forwardedHost.hasMoreElements()) {
      for (String h : forwardedHost.nextElement().split(",")) {
        if (!h.isBlank() && !knows(h)) {
          return h.trim();
        }
      }
    }
    while (forwarded != null && forwarded.hasMoreElements()) {
      String value = forwarded.nextElement();
      List<String> pairs = pairs(value);
      if (pairs == null) {
        return value.trim(); // a quote left open would hide what follows it, a host= a proxy appended too
      }
      for (String pair : pairs) {
        int eq = pair.indexOf('=');
        if (eq > 0 && pair.substring(0, eq).trim().equalsIgnoreCase("host")) {
          String h = pair.substring(eq + 1).trim();
          h = h.length() >= 2 && h.startsWith("\"") && h.endsWith("\"") ? h.substring(1, h.length() - 1) : h;
          if (h.isBlank() || !knows(h)) {
            return h;
          }
        }
      }
    }
    return null;
  }

  /** {@code Forwarded}'s {@code name=value} pairs: split at {@code ,} and {@code ;} outside quoted values; null if a quote is left open. */
  private static List<String> pairs(String header) {
    List<String> out = new ArrayList<>();
    boolean quoted = false;
    int start = 0;
    for (int i = 0; i < header.length(); i++) {
      char c = header.charAt(i);
      if (c == '"') {
        quoted = !quoted;
      } else if (c == '\\' && quoted) {
        i++;
      } else if (!quoted && (c == ',' || c == ';')) {
        out.add(header.substring(start, i));
        start = i + 1;
      }
    }
    out.add(header.substring(start));
    return quoted ? null : out;
  }

  /** True at most once a minute (one of the threads refusing at that moment): whether to log a refusal. */
  boolean warnNow(long nanos) {
    Long next = nextWarning.get();
    return (next == null || nanos - next >= 0) && nextWarning.compareAndSet(next, nanos + 60_000_000_000L);
  }

  /** Whether {@code name} (a host without its port) is one public DNS cannot give: one under a private suffix. */
  static boolean privateName(String name) {
    for (String suffix : ServerConfig.PRIVATE_HOST_SUFFIXES) {
      if (name.endsWith(suffix)) {
        return true;
      }
    }
    return false;
  }

  private static boolean plainName(String name) {
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      if (!(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_')) {
        return false;
      }
    }
    return true;
  }

  /** {@code [...]} holding hex digits, colons, dots and a zone ({@code %25eth0}): what a browser sends for one. */
  private static boolean ipv6(String name) {
    if (name.length() < 4 || !name.endsWith("]") || name.indexOf(':') < 0) {
      return false;
    }
    for (int i = 1; i < name.length() - 1; i++) {
      char c = name.charAt(i);
      if (!(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c == ':' || c == '.' || c == '%')) {
        return false;
      }
    }
    return true;
  }

  private static boolean digitsAndDots(String name) {
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      if ((c < '0' || c > '9') && c != '.') {
        return false;
      }
    }
    return true;
  }

  /** A host without its port and final dot, in lower case: what DNS resolves. */
  static String name(String host) {
    String h = host.trim().toLowerCase(Locale.ROOT);
    if (h.startsWith("[")) {
      int end = h.indexOf(']');
      return end < 0 ? h : h.substring(0, end + 1);
    }
    int colon = h.lastIndexOf(':');
    if (colon >= 0) {
      h = h.substring(0, colon);
    }
    while (h.endsWith(".")) {
      h = h.substring(0, h.length() - 1);
    }
    return h;
  }
}
