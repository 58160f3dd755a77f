package io.routewise.server;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.routewise.upstream.Usage;
import java.util.Optional;

/**
 * A Responses object's top-level {@code status} and {@code usage}, read from its bytes as they are
 * relayed (a poll of a background response, its cancel), holding neither the body nor any string in
 * it: a finished answer runs to megabytes (an image's base64 is one string). A byte scan keeps only
 * the object's depth, whether it is inside a string, the name of the top-level field being read,
 * the {@code status} value and the {@code usage} object's bytes (up to {@value #MAX_USAGE}). Anything
 * that is not one JSON object leaves it without either.
 */
final class ResponseUsageTap {
  /** The states a background response ends in; before them it has no usage yet. */
  private static final java.util.Set<String> FINAL = java.util.Set.of("completed", "incomplete", "failed", "cancelled");
  /** A usage object is a few hundred bytes; past this it is given up on. */
  static final int MAX_USAGE = 64 * 1024;
  /** Past this, a field name or status is none wanted here. */
  private static final int MAX_NAME = 32;
  private static final byte[] BOM = {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF};

  private int depth;
  private boolean inString;
  private boolean escaped;
  /** At depth 1: reading a field's name (a string where a name goes), or else its value. */
  private boolean expectName;
  private boolean readingName;
  private final StringBuilder name = new StringBuilder();
  private String field;
  private boolean readingStatus;
  private final StringBuilder statusText = new StringBuilder();
  private String status;
  /** The top-level {@code id} (a response's), up to {@value #MAX_ID} characters. */
  private boolean readingId;
  private final StringBuilder idText = new StringBuilder();
  private String id;
  private static final int MAX_ID = 256;
  /** The usage object's bytes while it is read (its depth began at {@code usageFrom}). */
  private java.io.ByteArrayOutputStream usageBytes;
  private byte[] usage;
  private boolean started;
  /** Bytes of a UTF-8 byte-order mark read before the object (Jackson reads past one too). */
  private int bom;
  private boolean ended;
  private boolean broken;

  /** Reads {@code len} more bytes of the body. */
  void feed(byte[] b, int off, int len) {
    int end = off + len;
    for (int i = off; i < end && !broken; i++) {
      if (inString && !escaped && usageBytes == null && !readingName && !readingStatus && !readingId) {
        while (i < end && b[i] != '"' && b[i] != '\\') { // most of a body is inside strings none reads
          i++;
        }
        if (i == end) {
          return;
        }
      }
      read(b[i]);
    }
  }

  private void read(byte c) {
    if (usageBytes != null) {
      if (usageBytes.size() >= MAX_USAGE) {
        broken = true;
        return;
      }
      usageBytes.write(c);
    }
    if (inString) {
      if (escaped) {
        escaped = false;
        collect(c);
      } else if (c == '\\') {
        escaped = true;
        collect(c);
      } else if (c == '"') {
        inString = false;
        endString();
      } else {
        collect(c);
      }
      return;
    }
    if (!started && bom < 3 && c == BOM[bom] && depth == 0) {
      bom++;
      return;
    }
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      return;
    }
    if (ended || !started && (c != '{' || bom == 1 || bom == 2)) {
      broken = true; // more after the object, or not an object
      return;
    }
    switch (c) {
      case '"' -> {
        inString = true;
        if (depth == 1 && expectName) {
          readingName = true;
          name.setLength(0);
        } else if (depth == 1 && "status".equals(field)) {
          readingStatus = true;
          statusText.setLength(0);
        } else if (depth == 1 && "id".equals(field)) {
          readingId = true;
          idText.setLength(0);
        }
      }
      case '{', '[' -> {
        if (depth == 1 && c == '{' && "usage".equals(field) && usageBytes == null && usage == null) {
          usageBytes = new java.io.ByteArrayOutputStream(256);
          usageBytes.write(c);
        }
        started = true;
        depth++;
        expectName = c == '{';
      }
      case '}', ']' -> {
        depth--;
        if (depth == 1 && usageBytes != null) {
          usage = usageBytes.toByteArray();
          usageBytes = null;
        }
        if (depth == 0) {
          ended = true;
        } else if (depth < 0) {
          broken = true;
        }
        expectName = false;
      }
      case ',' -> expectName = true;
      case ':' -> expectName = false;
      default -> { } // a number, true, false, null
    }
    if (depth == 1 && c == ',') {
      field = null;
    }
  }

  private void collect(byte c) {
    if (readingName && name.length() < MAX_NAME) {
      name.append((char) (c & 0xff));
    } else if (readingStatus && statusText.length() < MAX_NAME) {
      statusText.append((char) (c & 0xff));
    } else if (readingId && idText.length() <= MAX_ID) { // one more than the longest kept: cut short
      idText.append((char) (c & 0xff));
    }
  }

  private void endString() {
    if (readingName) {
      readingName = false;
      field = name.toString();
    } else if (readingStatus) {
      readingStatus = false;
      status = statusText.toString();
    } else if (readingId) {
      readingId = false;
      id = idText.length() <= MAX_ID ? idText.toString() : null; // an id cut short is none
    }
  }

  /** The status of the object read whole, or null. */
  String status() {
    return ended && !broken ? status : null;
  }

  /** The top-level {@code id} of the object read whole (ASCII, as response ids are), or null. */
  String id() {
    return ended && !broken ? id : null;
  }

  /** Whether the object read whole says it is done: its usage is then all it will ever be. */
  boolean finished() {
    return status() != null && FINAL.contains(status);
  }

  /** The usage of a {@link #finished()} object, if it has one. */
  Optional<Usage> usage() {
    return finished() ? wholeUsage() : Optional.empty();
  }

  /** Whether the body was one JSON object, read whole. */
  boolean whole() {
    return ended && !broken;
  }

  /**
   * The usage of an object read whole, whatever its status (an embedding or a completion has none):
   * a passed-through answer's, metered at its model's price.
   */
  Optional<Usage> wholeUsage() {
    if (!ended || broken || usage == null) {
      return Optional.empty();
    }
    try (JsonParser p = ChatRequestParser.JSON.createParser(usage)) {
      return p.nextToken() == JsonToken.START_OBJECT ? Usage.fromObject(p) : Optional.empty();
    } catch (java.io.IOException | RuntimeException malformed) {
      return Optional.empty();
    }
  }

  /** Whether a Responses object, read whole, is still queued or under way (a background one). */
  static boolean underWay(byte[] body) {
    String status = PassthroughHandler.topLevelString(body, "status");
    return "queued".equals(status) || "in_progress".equals(status);
  }
}
