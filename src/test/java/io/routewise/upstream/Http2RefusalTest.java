package io.routewise.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.SocketEffect;
import okhttp3.internal.http2.ErrorCode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * An HTTP/2 upstream may refuse a stream before processing it (REFUSED_STREAM), which is also how
 * OkHttp reports the streams a GOAWAY left out when a server rotates its connections. Such a request
 * is safe to send again (RFC 9113 §8.7); before, with OkHttp's own retries off, it was a 502, or a
 * failover to a dearer model. Any other reset may come after the upstream did the work, and is not
 * resent.
 */
class Http2RefusalTest {
  private static final String ANSWER = "{\"id\":\"c1\",\"object\":\"chat.completion\",\"choices\":[]}";

  private H2cUpstream h2;
  private MockWebServer server;
  private UpstreamClient upstream;

  @BeforeEach
  void start() throws Exception {
    h2 = new H2cUpstream();
    server = h2.server;
    upstream = h2.upstream;
  }

  @AfterEach
  void stop() {
    h2.close();
  }

  private String call() throws Exception {
    try (UpstreamResponse r = upstream.send("{\"messages\":[]}".getBytes(StandardCharsets.UTF_8), false)) {
      assertEquals(200, r.status());
      return new String(r.bodyBytes(1 << 20), StandardCharsets.UTF_8);
    }
  }

  /**
   * Exactly {@code n} requests reached the server: the server may record a refused one just after
   * the client has heard the refusal, so each is waited for, and then a moment for one too many.
   */
  private void assertRequests(int n) throws InterruptedException {
    for (int i = 0; i < n; i++) {
      org.junit.jupiter.api.Assertions.assertNotNull(server.takeRequest(5, java.util.concurrent.TimeUnit.SECONDS),
          "request " + (i + 1) + " of " + n);
    }
    org.junit.jupiter.api.Assertions.assertNull(server.takeRequest(300, java.util.concurrent.TimeUnit.MILLISECONDS),
        "more than " + n + " requests");
  }

  private static MockResponse resetWith(ErrorCode code) {
    return new MockResponse.Builder().onRequestStart(new SocketEffect.CloseStream(code.getHttpCode())).build();
  }

  /**
   * The first {@code resets} streams are reset and every later one is answered; a stream is claimed
   * as it opens. MockWebServer's queue would not do: it peeks, resets the stream, and only then takes
   * the reset off the queue, so a resend arriving in between (on its own server thread) was reset too
   * (seen once in CI). It peeks elsewhere too (at accept, while reading a request), so only the peek
   * made by {@code onStream} itself claims; were that method renamed, no stream would be reset and
   * each test here would fail.
   */
  private void resetThenAnswer(int resets, ErrorCode code) {
    java.util.concurrent.atomic.AtomicInteger left = new java.util.concurrent.atomic.AtomicInteger(resets);
    MockResponse reset = resetWith(code);
    MockResponse answer = new MockResponse.Builder().body(ANSWER).build();
    StackWalker stack = StackWalker.getInstance();
    server.setDispatcher(new mockwebserver3.Dispatcher() {
      @Override
      public MockResponse peek() {
        boolean streamOpens = stack.walk(frames -> frames.skip(1).findFirst())
            .map(caller -> caller.getMethodName().equals("onStream")).orElse(false);
        if (!streamOpens) {
          return left.get() > 0 ? reset : answer;
        }
        return left.getAndUpdate(n -> Math.max(0, n - 1)) > 0 ? reset : answer;
      }

      @Override
      public MockResponse dispatch(mockwebserver3.RecordedRequest request) {
        return answer; // a reset stream's bookkeeping takes one, unused
      }
    });
  }

  @Test
  void aStreamRefusedBeforeProcessingIsSentAgain() throws Exception {
    resetThenAnswer(1, ErrorCode.REFUSED_STREAM);
    assertEquals(ANSWER, call(), "the refused request went again and was answered");
    assertRequests(2);
  }

  @Test
  void aSecondRefusalIsTheClientsAnswerNotALoop() throws Exception {
    resetThenAnswer(2, ErrorCode.REFUSED_STREAM);
    UpstreamException e = assertThrows(UpstreamException.class, this::call);
    assertEquals(false, e.isTimeout(), "a 502, not a 504");
    assertRequests(2); // one resend, no more
  }

  @Test
  void anyOtherResetMayComeAfterTheWorkAndIsNotResent() throws Exception {
    resetThenAnswer(1, ErrorCode.INTERNAL_ERROR);
    UpstreamException e = assertThrows(UpstreamException.class, this::call);
    assertEquals(false, e.isTimeout(), "a 502, not a 504");
    assertRequests(1);
  }
}
