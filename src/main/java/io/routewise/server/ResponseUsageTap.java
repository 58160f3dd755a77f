package io.routewise.server;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.async.ByteArrayFeeder;
import com.fasterxml.jackson.databind.util.TokenBuffer;
import java.io.IOException;
import java.util.Optional;

/**
 * A Responses object's top-level {@code status} and {@code usage}, read from its bytes as they are
 * relayed (a poll of a background response, its cancel), without holding the body: a finished deep
 * research answer runs to megabytes, and only its usage is wanted. Anything that is not one JSON
 * object leaves it without either.
 */
final class ResponseUsageTap {
  /** The states a background response ends in; before them it has no usage yet. */
  private static final java.util.Set<String> FINAL = java.util.Set.of("completed", "incomplete", "failed", "cancelled");

  private final JsonParser p;
  private int depth;
  private String field;
  private String status;
  private TokenBuffer usageTokens;
  private int usageDepth;
  private Usage usage;
  private boolean broken;
  private boolean ended;

  ResponseUsageTap() {
    JsonParser parser = null;
    try {
      parser = ChatRequestParser.JSON.createNonBlockingByteArrayParser();
    } catch (IOException e) {
      broken = true;
    }
    p = parser;
  }

  /** Reads {@code len} more bytes of the body. */
  void feed(byte[] b, int off, int len) {
    if (broken || len <= 0) {
      return;
    }
    try {
      ((ByteArrayFeeder) p.getNonBlockingInputFeeder()).feedInput(b, off, off + len);
      JsonToken t;
      while (!broken && (t = p.nextToken()) != null && t != JsonToken.NOT_AVAILABLE) {
        read(t);
      }
    } catch (IOException | RuntimeException notJson) {
      broken = true;
    }
    if (broken) {
      usageTokens = null;
      try {
        p.close(); // its buffers back; one cut part way is left to the collector
      } catch (IOException ignored) {
        // nothing held that matters
      }
    }
  }

  private void read(JsonToken t) throws IOException {
    if (ended) {
      broken = true; // more after the object: not one object
      return;
    }
    if (usageTokens != null) { // inside the usage object: kept, to be read as Usage reads any
      usageTokens.copyCurrentEvent(p);
      if (t.isStructStart()) {
        usageDepth++;
      } else if (t.isStructEnd() && --usageDepth == 0) {
        try (JsonParser u = usageTokens.asParser()) {
          u.nextToken();
          usage = Usage.fromObject(u);
        }
        usageTokens = null;
      }
      return;
    }
    if (t == JsonToken.FIELD_NAME) {
      if (depth == 1) {
        field = p.currentName();
      }
    } else if (t.isStructStart()) {
      if (depth == 0 && t != JsonToken.START_OBJECT) {
        broken = true;
      } else if (depth == 1 && t == JsonToken.START_OBJECT && "usage".equals(field)) {
        usageTokens = new TokenBuffer(p, null);
        usageTokens.copyCurrentEvent(p);
        usageDepth = 1;
        return;
      }
      depth++;
    } else if (t.isStructEnd()) {
      if (--depth == 0) {
        ended = true;
      }
    } else if (depth == 0) {
      broken = true; // a scalar, not an object
    } else if (depth == 1 && t == JsonToken.VALUE_STRING && "status".equals(field)) {
      status = p.getText();
    }
  }

  /** Whether the object read whole says it is done: its usage is then all it will ever be. */
  boolean finished() {
    return ended && !broken && status != null && FINAL.contains(status);
  }

  /** The usage of a {@link #finished()} object, if it has one. */
  Optional<Usage> usage() {
    return finished() ? Optional.ofNullable(usage) : Optional.empty();
  }

  /** Whether a Responses object, read whole, is still queued or under way (a background one). */
  static boolean underWay(byte[] body) {
    String status = PassthroughHandler.topLevelString(body, "status");
    return "queued".equals(status) || "in_progress".equals(status);
  }
}
