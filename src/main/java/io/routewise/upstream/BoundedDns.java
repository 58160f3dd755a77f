package io.routewise.upstream;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.LongSupplier;
import okhttp3.Dns;

/**
 * A name lookup that gives up when the time allowed for it runs out. OkHttp's timeouts cannot
 * interrupt a lookup (it blocks in the resolver), so a slow or unreachable DNS server held a request
 * for the resolver's own timeout, past {@code connect_timeout_ms} or a judge's {@code timeout_ms}.
 * The lookup runs on a virtual thread; one that does not answer in time is an
 * {@link UnknownHostException}, which callers already report as unreachable, and finishes for nobody.
 */
public final class BoundedDns implements Dns {
  private final Dns resolver;
  private final LongSupplier nanosAllowed;

  /**
   * @param resolver what looks the name up ({@link Dns#SYSTEM} but in tests)
   * @param nanosAllowed how long this lookup may take, asked at each lookup
   */
  public BoundedDns(Dns resolver, LongSupplier nanosAllowed) {
    this.resolver = resolver;
    this.nanosAllowed = nanosAllowed;
  }

  /**
   * A lookup that did not answer in time, or had no time left to start (a host name that does not
   * resolve is a plain {@link UnknownHostException}): a timeout to its caller, not an unknown host.
   */
  public static final class LookupTimedOut extends UnknownHostException {
    LookupTimedOut(String message) {
      super(message);
    }
  }

  @Override
  public List<InetAddress> lookup(String hostname) throws UnknownHostException {
    long allowed = nanosAllowed.getAsLong();
    if (allowed <= 0) {
      throw new LookupTimedOut(hostname + ": no time left to look it up");
    }
    FutureTask<List<InetAddress>> lookup = new FutureTask<>(() -> resolver.lookup(hostname));
    Thread.ofVirtual().name("dns-lookup").start(lookup);
    try {
      return lookup.get(allowed, TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      lookup.cancel(true);
      throw new LookupTimedOut(hostname + ": no answer from DNS within " + TimeUnit.NANOSECONDS.toMillis(allowed) + " ms");
    } catch (ExecutionException e) {
      if (e.getCause() instanceof UnknownHostException unknown) {
        throw unknown;
      }
      UnknownHostException failed = new UnknownHostException(hostname + ": " + e.getCause());
      failed.initCause(e.getCause());
      throw failed;
    } catch (InterruptedException e) {
      lookup.cancel(true);
      Thread.currentThread().interrupt();
      throw new UnknownHostException(hostname + ": interrupted while looking it up");
    }
  }
}
