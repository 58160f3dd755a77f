package io.routewise.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;
import mockwebserver3.MockResponse;
import mockwebserver3.MockResponseBody;
import mockwebserver3.MockWebServer;
import org.junit.jupiter.api.AfterEach;

/**
 * An HTTP/2 stream whose client stops reading holds what the upstream sent ahead on the heap: with
 * OkHttp's 16 MiB stream window, 20 such clients of large streams held 270 MB (HTTP/1.1: nothing, the
 * bytes wait in the kernel), uncounted by server.max_buffered_body_bytes.
 */
class Http2WindowTest {
  private static final int BODY_BYTES = 8 << 20;

  private H2cUpstream h2;
  private MockWebServer server;
  private UpstreamClient upstream;
  private final AtomicLong written = new AtomicLong();

  private void start(int windowBytes) throws Exception {
    h2 = new H2cUpstream(new io.routewise.config.ClientConfig(4, java.time.Duration.ofSeconds(30), windowBytes));
    server = h2.server;
    upstream = h2.upstream;
    // a first answer on the connection: its SETTINGS then reaches the server before the stream under
    // test opens (OkHttp's own server, this one, applies a SETTINGS frame after the frames behind it,
    // where RFC 9113 §6.5.3 and nginx, Go, Envoy and Netty apply it first)
    server.enqueue(new MockResponse.Builder().body("{}").build());
    byte[] piece = new byte[16 * 1024];
    java.util.Arrays.fill(piece, (byte) 'x');
    server.enqueue(new MockResponse.Builder().addHeader("Content-Type", "text/event-stream").body(new MockResponseBody() {
      @Override
      public long getContentLength() {
        return BODY_BYTES;
      }

      @Override
      public void writeTo(okio.BufferedSink sink) throws java.io.IOException {
        for (int n = 0; n < BODY_BYTES; n += piece.length) {
          sink.write(piece);
          sink.flush();
          written.addAndGet(piece.length);
        }
      }
    }).build());
  }

  @AfterEach
  void stop() {
    if (h2 != null) {
      h2.close();
    }
  }

  /** What the server has written once it stopped: the stream's window filled, or the body all sent. */
  private long writtenWhenSettled() throws InterruptedException {
    long last = -1;
    for (int i = 0; i < 50 && written.get() != last; i++) {
      last = written.get();
      Thread.sleep(100);
    }
    return written.get();
  }

  /** The default, and client.http2_stream_window_bytes lower (or higher, for large downloads from afar). */
  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(ints = {io.routewise.config.ClientConfig.DEFAULT_HTTP2_STREAM_WINDOW_BYTES, 256 << 10})
  void anUnreadStreamHoldsAboutOneWindowNotSixteenMegabytes(int windowBytes) throws Exception {
    start(windowBytes);
    try (UpstreamResponse first = upstream.send("{}".getBytes(StandardCharsets.UTF_8), false)) {
      assertEquals("{}", new String(first.bodyBytes(1 << 10), StandardCharsets.UTF_8));
    }
    try (UpstreamResponse r = upstream.send("{\"stream\":true}".getBytes(StandardCharsets.UTF_8), true)) {
      assertEquals(200, r.status());
      long ahead = writtenWhenSettled();
      assertTrue(ahead >= 64 << 10, "the server wrote (" + ahead + " bytes)");
      assertTrue(ahead <= windowBytes + (64 << 10),
          "sent ahead of the reader: " + ahead + " bytes");
      // the smaller window still carries the whole body once it is read
      byte[] all = r.bodyBytes(BODY_BYTES + 1);
      assertEquals(BODY_BYTES, all.length);
    }
  }
}
