package io.routewise.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.EOFException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.ProtocolException;
import java.net.SocketException;
import java.net.UnknownHostException;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.Test;

/** What a client reads in a 502 names the kind of failure and never the host or address the I/O error quoted. */
class FailureKindTest {
  @Test
  void namesTheKindOfFailureWithoutTheHost() {
    assertEquals("its host name did not resolve",
        UpstreamClient.kind(new UnknownHostException("llm.internal.corp: Name or service not known")));
    assertEquals("the connection could not be made",
        UpstreamClient.kind(new ConnectException("Failed to connect to llm.internal.corp/10.1.2.3:8000")));
    assertEquals("there is no route to its address", UpstreamClient.kind(wrapped(
        new NoRouteToHostException("No route to host"))));
    assertEquals("the TLS handshake or session failed",
        UpstreamClient.kind(new SSLHandshakeException("No subject alternative DNS name matching llm.internal.corp")));
    assertEquals("the connection was reset", UpstreamClient.kind(new SocketException("Connection reset")));
    assertEquals("the connection closed before a complete answer",
        UpstreamClient.kind(new IOException("unexpected end of stream on http://10.1.2.3:8000/...")));
    assertEquals("the connection closed before a complete answer", UpstreamClient.kind(new EOFException()));
    assertEquals("its answer was not valid HTTP", UpstreamClient.kind(new ProtocolException("Unexpected status line")));
    // OkHttp wraps the cause; the kind is found on it.
    assertEquals("the connection was refused", UpstreamClient.kind(
        wrapped(new ConnectException("Connection refused"))));
    assertEquals("the connection closed while the request was being sent",
        UpstreamClient.kind(new SocketException("Broken pipe")));
    assertEquals("an I/O error (IOException)", UpstreamClient.kind(new IOException("something at 10.1.2.3")));
  }

  /** As OkHttp throws it: its own ConnectException naming the address, the socket's error as the cause. */
  private static IOException wrapped(IOException cause) {
    IOException e = new ConnectException("Failed to connect to /10.1.2.3:8000");
    e.initCause(cause);
    return e;
  }
}
