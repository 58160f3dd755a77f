package io.routewise.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ChatRequestParserTest {
  private static ChatRequest parse(String json) {
    return ChatRequestParser.parse(json.getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void aBodysFieldNamesAreNotInternedIntoTheJvmsStringTable() {
    // A valid 4 MB body can hold 400,000 distinct names ({"k1":0,"k2":0,...}): each interned, the chat,
    // Responses, route and budget parsers cost it ~20 times a normal body's parse, and fill a JVM-wide table
    String name = "x_" + java.util.UUID.randomUUID();
    String body = "{\"" + name + "\":0,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}";
    try (var p = ChatRequestParser.JSON.createParser(body.getBytes(StandardCharsets.UTF_8))) {
      p.nextToken();
      p.nextToken();
      String read = p.currentName();
      assertEquals(name, read);
      assertFalse(read == new String(read).intern(), "the body's field name was interned");
    } catch (java.io.IOException e) {
      throw new AssertionError(e);
    }
    assertEquals("x", parse(body).prompt());
  }

  @Test
  void replacesOnlyTheModelValueAndKeepsEveryOtherByte() {
    String body = "{ \"tools\" : [1,2], \"model\":\"router-mf-0.1\" ,\"messages\":[{\"role\":\"user\",\"content\":\"hé\"}],"
        + "\"x_future\":{\"a\":\"\\\"model\\\"\"}}";
    ChatRequest r = parse(body);
    assertEquals("router-mf-0.1", r.model());
    String out = new String(r.withModel("gpt-4o"), StandardCharsets.UTF_8);
    assertEquals(body.replace("router-mf-0.1", "gpt-4o"), out);
  }

  @Test
  void mediaInAnyMessageIsNotedForTheRoutingAndItsTextIsNotScored() {
    ChatRequest r = parse("{\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\","
        + "\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://x/a.png\"}},{\"type\":\"file\","
        + "\"file\":{\"file_id\":\"f\"}}]},{\"role\":\"assistant\",\"content\":\"ok\"},{\"role\":\"user\","
        + "\"content\":[{\"type\":\"text\",\"text\":\"and this?\"},{\"type\":\"input_audio\",\"input_audio\":{}}]}]}");
    assertEquals("and this?", r.prompt());
    assertEquals(java.util.Set.of(io.routewise.routing.Media.IMAGE, io.routewise.routing.Media.FILE,
        io.routewise.routing.Media.AUDIO), r.routingPrompt().media());
    assertTrue(parse("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"x\"}]}]}")
        .routingPrompt().media().isEmpty());
  }

  @Test
  void insertsModelWhenAbsent() {
    ChatRequest r = parse("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    assertNull(r.model());
    assertEquals("{\"model\":\"m\\\"q\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
        new String(r.withModel("m\"q"), StandardCharsets.UTF_8));
  }

  @Test
  void asksForUsageOnlyForAStreamThatSetNoStreamOptions() {
    ChatRequest r = parse(" {\"stream\":true,\"model\":\"router-mf-0.1\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    assertTrue(r.streamWithoutUsage());
    assertEquals(" {\"stream_options\":{\"include_usage\":true},\"stream\":true,\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
        new String(r.forUpstream("gpt-4o", true).toBytes(), StandardCharsets.UTF_8));
    assertEquals(" {\"stream\":true,\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
        new String(r.forUpstream("gpt-4o", false).toBytes(), StandardCharsets.UTF_8));
    ChatRequest noModel = parse("{\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    assertEquals("{\"stream_options\":{\"include_usage\":true},\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
        new String(noModel.forUpstream("m", true).toBytes(), StandardCharsets.UTF_8));
    assertFalse(parse("{\"stream\":true,\"stream_options\":{\"include_usage\":true},\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}")
        .streamWithoutUsage(), "the client asked: left as it is");
    assertFalse(parse("{\"stream\":true,\"stream_options\":\"x\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}")
        .streamWithoutUsage(), "not an object: the upstream's to refuse");
    assertFalse(parse("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}").streamWithoutUsage(), "not a stream: its usage is in the body");
  }

  /** Clients that write every field send {@code "stream_options": null}; others send options without usage. */
  @Test
  void aNullOrAnOptionsObjectWithoutUsageIsAskedForUsageInPlace() {
    String messages = "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]";
    ChatRequest nul = parse("{\"model\":\"router-mf-0.1\",\"stream\":true,\"stream_options\": null," + messages + "}");
    assertTrue(nul.streamWithoutUsage());
    assertEquals("{\"model\":\"gpt-4o\",\"stream\":true,\"stream_options\": {\"include_usage\":true}," + messages + "}",
        new String(nul.forUpstream("gpt-4o", true).toBytes(), StandardCharsets.UTF_8));
    assertEquals("{\"model\":\"gpt-4o\",\"stream\":true,\"stream_options\": null," + messages + "}",
        new String(nul.forUpstream("gpt-4o", false).toBytes(), StandardCharsets.UTF_8), "not asked: as it came");
    ChatRequest empty = parse("{\"stream_options\":{ },\"stream\":true,\"model\":\"m0\"," + messages + "}");
    assertEquals("{\"stream_options\":{\"include_usage\":true },\"stream\":true,\"model\":\"m\"," + messages + "}",
        new String(empty.forUpstream("m", true).toBytes(), StandardCharsets.UTF_8), "options before the model");
    ChatRequest other = parse("{\"stream\":true," + messages + ",\"stream_options\":{\"continuous_usage_stats\":true}}");
    String sent = new String(other.forUpstream("m", true).toBytes(), StandardCharsets.UTF_8);
    assertEquals("{\"model\":\"m\",\"stream\":true," + messages
        + ",\"stream_options\":{\"include_usage\":true,\"continuous_usage_stats\":true}}", sent, "no model: inserted first");
    assertEquals(true, assertDoesNotThrow(() -> new com.fasterxml.jackson.databind.ObjectMapper().readTree(sent))
        .path("stream_options").path("include_usage").asBoolean());
    ChatRequest usageNull = parse("{\"stream\":true,\"stream_options\":{\"a\":{\"include_usage\":1},\"include_usage\": null },"
        + messages + "}");
    assertTrue(usageNull.streamWithoutUsage(), "include_usage: null is not a word either");
    assertEquals("{\"model\":\"m\",\"stream\":true,\"stream_options\":{\"a\":{\"include_usage\":1},\"include_usage\": true },"
        + messages + "}", new String(usageNull.forUpstream("m", true).toBytes(), StandardCharsets.UTF_8),
        "true in place of the null, not a second key (the nested one is another option's)");
    ChatRequest declined = parse("{\"stream\":true,\"stream_options\":{\"include_usage\" : false ,\"x\":1}," + messages + "}");
    assertTrue(declined.streamWithoutUsage(), "include_usage false: asked all the same, the chunk kept from the client");
    assertEquals("{\"model\":\"m\",\"stream\":true,\"stream_options\":{\"include_usage\" : true ,\"x\":1}," + messages + "}",
        new String(declined.forUpstream("m", true).toBytes(), StandardCharsets.UTF_8), "true in place of the false");
    assertEquals("stream_options.include_usage", assertThrows(ApiException.class, () -> parse(
        "{\"stream\":true,\"stream_options\":{\"include_usage\":false,\"include_usage\":true}," + messages + "}")).param());
    assertEquals("stream_options.include_usage", assertThrows(ApiException.class, () -> parse(
        "{\"stream\":true,\"stream_options\":{\"include_usage\":null,\"include_usage\":true}," + messages + "}")).param());
    assertEquals("stream_options", assertThrows(ApiException.class, () -> parse(
        "{\"stream\":true,\"stream_options\":null,\"stream_options\":{}," + messages + "}")).param());
  }

  @Test
  void promptIsTheLastUserMessageTextParts() {
    ChatRequest r = parse("""
        {"model":"a","stream":true,"messages":[
          {"role":"system","content":"sys"},
          {"role":"user","content":"first"},
          {"role":"assistant","content":null,"tool_calls":[{"id":"1"}]},
          {"role":"user","content":[{"type":"text","text":"look at"},{"type":"image_url","image_url":{"url":"u"}},
                                    {"type":"text","text":"this"}]},
          {"role":"tool","content":"result"}]}
        """);
    assertEquals("look at\nthis", r.prompt());
    assertTrue(r.stream());
  }

  @Test
  void noUserMessageRoutesOnEmptyPrompt() {
    ChatRequest r = parse("{\"messages\":[{\"role\":\"system\",\"content\":\"only\"}],\"stream\":false}");
    assertEquals("", r.prompt());
    assertFalse(r.stream());
  }

  @Test
  void wrongTypesNameTheParameter() {
    assertEquals("messages", assertThrows(ApiException.class, () -> parse("{\"messages\":\"hi\"}")).param());
    assertEquals("messages[0].content", assertThrows(ApiException.class,
        () -> parse("{\"messages\":[{\"role\":\"user\",\"content\":5}]}")).param());
    assertEquals("messages[0].content[1].text", assertThrows(ApiException.class, () -> parse(
        "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},{\"text\":5,\"type\":\"text\"}]}]}"))
        .param(), "a text part's text that is not a string: refused as content 5 is, not routed without it");
    assertEquals("b", parse("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"text\":5},"
        + "{\"type\":\"text\",\"text\":\"b\"}]}]}").prompt(), "another kind of part is the upstream's to judge");
    assertEquals("messages[0].role", assertThrows(ApiException.class,
        () -> parse("{\"messages\":[{\"content\":\"x\"}]}")).param());
    assertEquals("stream", assertThrows(ApiException.class,
        () -> parse("{\"stream\":\"yes\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}")).param());
    assertEquals("model", assertThrows(ApiException.class,
        () -> parse("{\"model\":1,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}")).param());
  }

  @Test
  void malformedJsonAndTrailingGarbageAreRejected() {
    assertEquals(400, assertThrows(ApiException.class, () -> parse("{\"messages\":[")).status());
    assertEquals(400, assertThrows(ApiException.class,
        () -> parse("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]} extra")).status());
    assertEquals(400, assertThrows(ApiException.class, () -> parse("[1,2]")).status());
  }

  @Test
  void bodiesThatAreNotPlainUtf8AreA400NotA500() {
    String json = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    for (byte[] body : java.util.List.of(json.getBytes(java.nio.charset.StandardCharsets.UTF_16LE),
        json.getBytes(java.nio.charset.StandardCharsets.UTF_16), // with its byte-order mark
        json.getBytes(java.nio.charset.Charset.forName("UTF-32")),
        ("\uFEFF" + json).getBytes(java.nio.charset.StandardCharsets.UTF_8))) {
      ApiException e = assertThrows(ApiException.class, () -> ChatRequestParser.parse(body));
      assertEquals(400, e.status());
      assertTrue(e.getMessage().contains("UTF-8"), e.getMessage());
    }
  }

  @Test
  void aSecondCopyOfAFieldRoutingReadsIsRejected() {
    assertEquals("messages", assertThrows(ApiException.class, () -> parse(
        "{\"messages\":[{\"role\":\"user\",\"content\":\"hard proof\"}],\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}"))
        .param(), "routed on the last copy; an upstream reading the first answered another prompt");
    String m = "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]";
    assertEquals("stream", assertThrows(ApiException.class, () -> parse("{\"stream\":false,\"stream\":true," + m + "}"))
        .param());
    assertEquals("user", assertThrows(ApiException.class, () -> parse("{\"user\":\"a\",\"user\":\"b\"," + m + "}"))
        .param());
    assertEquals("messages[0].content", assertThrows(ApiException.class, () -> parse(
        "{\"messages\":[{\"role\":\"user\",\"content\":\"hard\",\"content\":\"x\"}]}")).param());
    assertEquals("messages[0].role", assertThrows(ApiException.class, () -> parse(
        "{\"messages\":[{\"role\":\"system\",\"content\":\"x\",\"role\":\"user\"}]}")).param());
    // inside a content part too (a helper's trial: the hard prompt first, "hi" scored, routed weak)
    assertEquals("messages[0].content[0].text", assertThrows(ApiException.class, () -> parse(
        "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hard\",\"text\":\"hi\"}]}]}"))
        .param());
    assertEquals("messages[0].content[0].type", assertThrows(ApiException.class, () -> parse(
        "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"type\":\"text\",\"text\":\"a\"}]}]}"))
        .param());
  }

  /** Go's decoder (Ollama's) reads a field name in any case, the last copy winning: another case is another copy. */
  @Test
  void aFieldRoutingReadsInAnotherCaseIsRejected() {
    String m = "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]";
    assertEquals("Messages", assertThrows(ApiException.class, () -> parse(
        "{" + m + ",\"Messages\":[{\"role\":\"user\",\"content\":\"hard proof\"}]}")).param());
    assertEquals("MODEL", assertThrows(ApiException.class, () -> parse("{\"MODEL\":\"gpt-4o\"," + m + "}")).param());
    assertEquals("\u017Ftream", assertThrows(ApiException.class, () -> parse("{\"\u017Ftream\":true," + m + "}")).param(),
        "Go folds the long s to s");
    assertEquals("Stream_Options", assertThrows(ApiException.class, () -> parse(
        "{\"Stream_Options\":{\"include_usage\":false}," + m + "}")).param());
    assertEquals("messages[0].ROLE", assertThrows(ApiException.class, () -> parse(
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\",\"ROLE\":\"system\"}]}")).param());
    assertEquals("messages[0].content[0].Text", assertThrows(ApiException.class, () -> parse(
        "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\",\"Text\":\"hard\"}]}]}"))
        .param());
    assertEquals("x", parse("{\"Tools\":[],\"Name\":1," + m + "}").prompt(), "other fields in any case are the upstream's");
  }

  /**
   * include_usage in another case inside stream_options: routewise saw none and added its own
   * "include_usage":true first, and Go's decoder (Ollama's) read the client's false, the last copy, so
   * the stream came without usage and its answer went unmetered.
   */
  @Test
  void includeUsageInAnotherCaseIsRejected() {
    String m = "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]";
    assertEquals("stream_options.Include_Usage", assertThrows(ApiException.class, () -> parse(
        "{\"stream\":true,\"stream_options\":{\"Include_Usage\":false}," + m + "}")).param());
    assertEquals("stream_options.INCLUDE_USAGE", assertThrows(ApiException.class, () -> parse(
        "{\"stream\":true,\"stream_options\":{\"include_usage\":true,\"INCLUDE_USAGE\":false}," + m + "}"))
        .param());
    assertEquals("x", parse("{\"stream\":true,\"stream_options\":{\"Other\":1}," + m + "}").prompt());
  }

  /** A part's type that is not a string was scored as a text part; empty parts added a line each to the prompt. */
  @Test
  void aPartsTypeMustBeAStringAndEmptyPartsAddNothing() {
    assertEquals("messages[0].content[0].type", assertThrows(ApiException.class, () -> parse(
        "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":5,\"text\":\"hi there\"}]}]}")).param());
    assertEquals("a\nb", parse("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"\"},"
        + "{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"text\",\"text\":\"\"},{\"type\":\"text\",\"text\":\"b\"},"
        + "{\"type\":\"text\",\"text\":\"\"}]}]}").prompt());
  }

  @Test
  void aSecondModelKeyIsRejectedRatherThanForwardedBesideTheRewrittenOne() {
    ApiException e = assertThrows(ApiException.class, () -> parse(
        "{\"model\":\"router-random-0\",\"model\":\"x\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"));
    assertEquals("model", e.param());
  }

  /** Parse errors read as the client's mistake, not as Jackson's settings (which feature to enable, which limit class). */
  @Test
  void jsonErrorsNameTheMistakeNotTheParsersInternals() {
    for (String body : new String[] {"{\"a\":NaN}", "{\"a\":[[[[", "{\"a\":" + "[".repeat(1200) + "]".repeat(1200) + "}",
        "{\"model\":\"m\", \"messages\": [}", "{\"model\":\"m\", /* c */ \"messages\": []}"}) {
      ApiException e = org.junit.jupiter.api.Assertions.assertThrows(ApiException.class,
          () -> ChatRequestParser.parse(body.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
      String m = e.getMessage();
      org.junit.jupiter.api.Assertions.assertTrue(m.startsWith("The request body is not valid JSON: "), m);
      org.junit.jupiter.api.Assertions.assertFalse(m.contains("`") || m.contains("Feature") || m.contains("Constraints")
          || m.contains("Source:") || m.contains("REDACTED"), m);
    }
    ApiException closed = assertThrows(ApiException.class, () -> parse("{\"model\":\"m\", \"messages\": [}"));
    assertEquals("The request body is not valid JSON: Unexpected close marker '}': expected ']' (for the array opened"
        + " at line 1, column 27).", closed.getMessage());
    assertEquals("The request body is not valid JSON: Unexpected character ('/' (code 47)): a comment, which JSON does not"
        + " have.", assertThrows(ApiException.class, () -> parse("{\"model\":\"m\", // c\n\"messages\":[]}")).getMessage());
    org.junit.jupiter.api.Assertions.assertEquals("Non-standard token 'NaN'.", ChatRequestParser.readable(
        "Non-standard token 'NaN': enable `JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow"));
  }

  private static boolean javaDecodes(byte[] b) {
    try {
      StandardCharsets.UTF_8.newDecoder().onMalformedInput(java.nio.charset.CodingErrorAction.REPORT)
          .onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPORT).decode(java.nio.ByteBuffer.wrap(b));
      return true;
    } catch (java.nio.charset.CharacterCodingException e) {
      return false;
    }
  }

  /** The validator agrees with Java's strict UTF-8 decoder (RFC 3629) on every byte pair and on random text. */
  @Test
  void utf8IsValidatedAsRfc3629Says() {
    for (int a = 0; a < 256; a++) {
      for (int b = 0; b < 256; b++) {
        byte[] two = {(byte) a, (byte) b};
        assertEquals(javaDecodes(two), ChatRequestParser.invalidUtf8At(two) < 0, a + " " + b);
        byte[] inText = ("0123456789" + "x").getBytes(StandardCharsets.US_ASCII);
        byte[] padded = java.util.Arrays.copyOf(inText, inText.length + 2);
        padded[inText.length] = (byte) a;
        padded[inText.length + 1] = (byte) b;
        assertEquals(javaDecodes(padded), ChatRequestParser.invalidUtf8At(padded) < 0, "after ASCII: " + a + " " + b);
      }
    }
    java.util.Random random = new java.util.Random(5);
    byte[][] pieces = {"a".getBytes(StandardCharsets.UTF_8), "é".getBytes(StandardCharsets.UTF_8),
        "€".getBytes(StandardCharsets.UTF_8), "😀".getBytes(StandardCharsets.UTF_8), {(byte) 0xC0, (byte) 0xAF},
        {(byte) 0xE0, (byte) 0x80, (byte) 0xAF}, {(byte) 0xED, (byte) 0xA0, (byte) 0x80},
        {(byte) 0xF4, (byte) 0x90, (byte) 0x80, (byte) 0x80}, {(byte) 0xF0, (byte) 0x80, (byte) 0x80, (byte) 0xAF},
        {(byte) 0x80}, {(byte) 0xF5}, {(byte) 0xE2, (byte) 0x82}};
    for (int t = 0; t < 20_000; t++) {
      java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
      for (int k = random.nextInt(12); k >= 0; k--) {
        byte[] p = random.nextInt(4) == 0 ? pieces[4 + random.nextInt(pieces.length - 4)] : pieces[random.nextInt(4)];
        out.writeBytes(p);
      }
      byte[] b = out.toByteArray();
      assertEquals(javaDecodes(b), ChatRequestParser.invalidUtf8At(b) < 0, java.util.HexFormat.of().formatHex(b));
    }
  }

  /** An overlong '/' (C0 AF) was scored as '/' while the upstream got the raw bytes (a security trial). */
  @Test
  void aBodyThatIsNotValidUtf8IsA400() {
    byte[] head = "{\"model\":\"router-random-0.5\",\"messages\":[{\"role\":\"user\",\"content\":\"".getBytes(StandardCharsets.UTF_8);
    byte[] tail = "\"}]}".getBytes(StandardCharsets.UTF_8);
    for (byte[] odd : new byte[][] {{(byte) 0xC0, (byte) 0xAF}, {(byte) 0xC0, (byte) 0x80},
        {(byte) 0xE0, (byte) 0x80, (byte) 0xAF}, {(byte) 0xF4, (byte) 0x90, (byte) 0x80, (byte) 0x80}, {(byte) 0xF5}}) {
      byte[] body = new byte[head.length + odd.length + tail.length];
      System.arraycopy(head, 0, body, 0, head.length);
      System.arraycopy(odd, 0, body, head.length, odd.length);
      System.arraycopy(tail, 0, body, head.length + odd.length, tail.length);
      ApiException e = assertThrows(ApiException.class, () -> ChatRequestParser.parse(body));
      assertEquals(400, e.status());
      assertTrue(e.getMessage().contains("not valid UTF-8 (byte " + head.length + ")"), e.getMessage());
    }
    assertDoesNotThrow(() -> ChatRequestParser.parse(("{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
        + "\"content\":\"café € 😀\"}]}").getBytes(StandardCharsets.UTF_8)));
  }

  /**
   * An assistant's or system's string content is not made into a String (only the user's is scored),
   * but it is still checked as JSON: a bad escape, a raw control character or invalid UTF-8 in it is a 400.
   */
  @Test
  void anotherRolesContentIsSkippedButStillChecked() {
    assertEquals("and now?", parse("{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},"
        + "{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"hello\"},"
        + "{\"content\":\"and now?\",\"role\":\"user\"}]}").prompt());
    for (String bad : new String[] {"bad \\q escape", "raw \u0001 control"}) {
      assertThrows(ApiException.class, () -> parse("{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\","
          + "\"content\":\"" + bad + "\"},{\"role\":\"user\",\"content\":\"hi\"}]}"), bad);
    }
    byte[] invalidUtf8 = "{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"content\":\"xx\"},{\"role\":\"user\",\"content\":\"hi\"}]}"
        .getBytes(StandardCharsets.UTF_8);
    int at = new String(invalidUtf8, StandardCharsets.UTF_8).indexOf("xx");
    invalidUtf8[at] = (byte) 0xC3; // a lead byte
    invalidUtf8[at + 1] = (byte) 0x28; // not a continuation
    assertThrows(ApiException.class, () -> ChatRequestParser.parse(invalidUtf8));
  }
}
