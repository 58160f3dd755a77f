package io.routewise.upstream;

import java.io.IOException;
import java.io.InputStream;
import okhttp3.Call;
import okhttp3.Response;

/**
 * An upstream response whose headers have arrived; the body is read (or relayed) by the caller,
 * who must {@link #close()} it. {@link #cancel()} aborts the upstream call, e.g. when the client
 * went away mid-stream.
 */
public final class UpstreamResponse implements AutoCloseable {
  private final Call call;
  private final Response response;

  UpstreamResponse(Call call, Response response) {
    this.call = call;
    this.response = response;
  }

  public int status() {
    return response.code();
  }

  public String header(String name) {
    return response.header(name);
  }

  /** Header names in the order received (lower-cased by the caller as needed). */
  public java.util.Set<String> headerNames() {
    return response.headers().names();
  }

  public InputStream body() {
    return response.body().byteStream();
  }

  public byte[] bodyBytes() throws IOException {
    return response.body().bytes();
  }

  public void cancel() {
    call.cancel();
  }

  @Override
  public void close() {
    response.close();
  }
}
