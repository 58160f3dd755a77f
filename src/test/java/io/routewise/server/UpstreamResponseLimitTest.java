package io.routewise.server;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.net.http.HttpResponse;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;

/**
 * A non-streamed answer is read whole before it is relayed: past server.max_response_bytes it is
 * dropped with a 502, whether the upstream sends it plainly or as a small gzip body that unpacks
 * far larger. Before the limit, such a body was read until the heap ran out.
 */
class UpstreamResponseLimitTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  private static String completion(int contentChars) {
    return ProxyFixture.COMPLETION.formatted("weak-model", "x".repeat(contentChars));
  }

  private static byte[] gzip(byte[] raw) throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (GZIPOutputStream z = new GZIPOutputStream(out)) {
      z.write(raw);
    }
    return out.toByteArray();
  }

  @Test
  void anAnswerPastTheLimitIsA502AndOneWithinItPasses() throws Exception {
    try (ProxyFixture f = ProxyFixture.configured("max_response_bytes: 100000", c -> c)) {
      f.weak.stubFor(post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse().withStatus(200)
          .withHeader("Content-Type", "application/json").withBody(completion(90_000))));
      HttpResponse<String> within = f.chat("router-random-1", "hi");
      assertEquals(200, within.statusCode());
      assertTrue(within.body().length() > 90_000);

      f.weak.stubFor(post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse().withStatus(200)
          .withHeader("Content-Type", "application/json").withBody(completion(200_000))));
      HttpResponse<String> plain = f.chat("router-random-1", "hi");
      assertEquals(502, plain.statusCode(), plain.body());
      assertEquals("upstream_response_too_large", JSON.readTree(plain.body()).get("error").get("code").asText());
      assertEquals("false", plain.headers().firstValue("x-should-retry").orElse(null), "as long, and billed, again");

      // 2 MB of JSON that travels as about 2 kB: the limit counts what it unpacks to
      byte[] packed = gzip(completion(2_000_000).getBytes(java.nio.charset.StandardCharsets.UTF_8));
      assertTrue(packed.length < 100_000);
      f.weak.stubFor(post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse().withStatus(200)
          .withHeader("Content-Type", "application/json").withHeader("Content-Encoding", "gzip").withBody(packed)));
      HttpResponse<String> bomb = f.chat("router-random-1", "hi");
      assertEquals(502, bomb.statusCode(), bomb.body());
      assertEquals("upstream_response_too_large", JSON.readTree(bomb.body()).get("error").get("code").asText());

      String m = f.get("/metrics").body();
      assertTrue(m.contains("routewise_upstream_duration_seconds_count{outcome=\"too_large\",upstream=\"weak\"} 2"), m);
    }
  }
}
