package io.routewise.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.routewise.routing.Media;
import io.routewise.upstream.RoutedApi;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** What a router scores of a Responses body, and what goes upstream of it. */
class ResponsesRequestParserTest {
  private static ChatRequest parse(String json) {
    return ResponsesRequestParser.parse(json.getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void aStringInputIsThePromptAndOnlyTheModelChanges() {
    String body = "{ \"model\" : \"router-mf-0.3\", \"instructions\":\"Be brief.\", \"input\": \"What is 2+2?\","
        + " \"stream\": true, \"user\": \"u1\" }";
    ChatRequest r = parse(body);
    assertEquals("router-mf-0.3", r.model());
    assertEquals("What is 2+2?", r.prompt(), "instructions, like a system message, are not scored");
    assertTrue(r.stream());
    assertEquals("u1", r.user());
    assertEquals(RoutedApi.RESPONSES, r.api());
    assertFalse(r.streamWithoutUsage(), "a Responses stream brings its usage unasked: nothing is added");
    assertEquals(body.replace("router-mf-0.3", "gpt-4o"),
        new String(r.forUpstream("gpt-4o", true).toBytes(), StandardCharsets.UTF_8));
    assertEquals("{\"model\":\"m\",\"input\":\"x\"}",
        new String(parse("{\"input\":\"x\"}").withModel("m"), StandardCharsets.UTF_8));
  }

  @Test
  void fromItemsTheLastUserMessageIsScoredAndMediaAnywhereNoted() {
    ChatRequest r = parse("""
        {"model":"m","input":[
          {"role":"user","content":"first question"},
          {"type":"message","role":"assistant","content":[{"type":"output_text","text":"an answer","annotations":[]}]},
          {"type":"function_call","call_id":"c1","name":"f","arguments":"{}"},
          {"type":"function_call_output","call_id":"c1","output":"42"},
          {"role":"user","content":[{"type":"input_text","text":"and this"},
            {"type":"input_image","image_url":"data:image/png;base64,AAAA"},{"type":"input_text","text":"picture?"}]},
          {"type":"reasoning","id":"rs_1","summary":[],"content":null}
        ]}""");
    assertEquals("and this\npicture?", r.prompt());
    assertEquals(Set.of(Media.IMAGE), r.media());
    assertEquals(Set.of(Media.FILE), parse("{\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_file\","
        + "\"file_id\":\"f\"}]}]}").media());
    assertEquals("", parse("{\"input\":[{\"role\":\"developer\",\"content\":\"rules\"}]}").prompt(), "no user message");
    assertEquals("", parse("{\"model\":\"m\",\"prompt\":{\"id\":\"pmpt_1\"}}").prompt(), "no input: nothing to score");
  }

  /**
   * README: "Images and files in input count as media". A tool's output may carry them too: a
   * function (or custom tool) call's output as input_image / input_file parts, a computer call's as
   * its screenshot. Unseen, such a turn was routed to an upstream whose accepts leaves images out.
   */
  @Test
  void mediaInAToolCallsOutputIsNoted() {
    assertEquals(Set.of(Media.IMAGE), parse("""
        {"model":"m","input":[{"role":"user","content":"What is on my screen?"},
          {"type":"function_call","call_id":"c1","name":"screenshot","arguments":"{}"},
          {"type":"function_call_output","call_id":"c1","output":[{"type":"input_text","text":"here"},
            {"type":"input_image","image_url":"data:image/png;base64,AAAA"}]}]}""").media());
    assertEquals(Set.of(Media.FILE), parse("""
        {"input":[{"role":"user","content":"Sum it up"},{"type":"custom_tool_call_output","call_id":"c2",
          "output":[{"type":"input_file","file_id":"file_1"}]}]}""").media());
    assertEquals(Set.of(Media.IMAGE), parse("""
        {"input":[{"role":"user","content":"Click OK"},{"type":"computer_call_output","call_id":"c3",
          "output":{"type":"computer_screenshot","image_url":"data:image/png;base64,AAAA"}}]}""").media());
    ChatRequest text = parse("""
        {"input":[{"role":"user","content":"Add them"},{"type":"function_call_output","call_id":"c4","output":"42"}]}""");
    assertEquals(Set.of(), text.media(), "a string output is text");
    assertEquals("Add them", text.prompt(), "a tool's output is not the user's message: not scored");
  }

  @Test
  void whatAContinuationNamesIsRead() {
    ChatRequest r = parse("{\"previous_response_id\":\"resp_1\",\"input\":\"more\"}");
    assertEquals("resp_1", r.previousResponseId());
    assertFalse(r.conversation());
    assertNull(parse("{\"previous_response_id\":null,\"input\":\"x\"}").previousResponseId());
    assertTrue(parse("{\"conversation\":\"conv_1\",\"input\":\"x\"}").conversation());
    assertTrue(parse("{\"conversation\":{\"id\":\"conv_1\"},\"input\":\"x\"}").conversation());
    assertFalse(parse("{\"conversation\":null,\"input\":\"x\"}").conversation());
  }

  @Test
  void aBodyOfManyOtherFieldsCostsNoMoreThanAChatBodyOfThem() {
    // Only the fields routing reads are remembered to refuse a second copy: every top-level name was
    // kept in a set, ~40 bytes each (a 4 MB body of {"k1":0,"k2":0,...}: 400,000)
    StringBuilder fields = new StringBuilder();
    for (int i = 0; i < 100_000; i++) {
      fields.append(",\"k").append(i).append("\":0");
    }
    byte[] responses = ("{\"input\":\"hi\"" + fields + "}").getBytes(StandardCharsets.UTF_8);
    byte[] chat = ("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]" + fields + "}")
        .getBytes(StandardCharsets.UTF_8);
    var threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
    org.junit.jupiter.api.Assumptions.assumeTrue(threads.isThreadAllocatedMemorySupported()
        && threads.isThreadAllocatedMemoryEnabled());
    long read = Long.MAX_VALUE;
    long chatRead = Long.MAX_VALUE;
    for (int round = 0; round < 6; round++) { // the least of each, once both are compiled alike
      long before = threads.getCurrentThreadAllocatedBytes();
      assertEquals("hi", ResponsesRequestParser.parse(responses).prompt());
      read = Math.min(read, threads.getCurrentThreadAllocatedBytes() - before);
      before = threads.getCurrentThreadAllocatedBytes();
      assertEquals("hi", ChatRequestParser.parse(chat).prompt());
      chatRead = Math.min(chatRead, threads.getCurrentThreadAllocatedBytes() - before);
    }
    assertTrue(read < chatRead * 1.2, read + " bytes allocated, against " + chatRead + " for the chat body");
    assertThrows(ApiException.class, () -> parse("{\"input\":\"a\"" + fields + ",\"input\":\"b\"}"));
  }

  @Test
  void whatRoutingReadsMustHaveItsType() {
    for (String[] c : new String[][] {
        {"[1]", null}, {"{\"input\":{}}", "input"}, {"{\"input\":[1]}", "input[0]"},
        {"{\"input\":[{\"role\":[],\"content\":\"x\"}]}", "input[0].role"},
        {"{\"input\":[{\"role\":\"user\",\"content\":[\"x\"]}]}", "input[0].content[0]"},
        {"{\"input\":\"a\",\"input\":\"a\"}", "input"}, {"{\"model\":\"a\",\"model\":\"a\"}", "model"},
        {"{\"model\":1}", "model"}, {"{\"stream\":\"yes\"}", "stream"},
        {"{\"previous_response_id\":{}}", "previous_response_id"}, {"{\"input\":\"x\"} {}", null},
        // Go's decoder (Ollama's) reads a name in any case, the last copy winning
        {"{\"input\":\"hi\",\"Input\":\"hard proof\"}", "Input"}, {"{\"model\":\"a\",\"Model\":\"b\"}", "Model"},
        {"{\"input\":[{\"role\":\"user\",\"content\":\"hi\",\"Content\":\"hard\"}]}", "input[0].Content"},
        {"{\"input\":\"x\",\"Previous_Response_Id\":\"resp_1\"}", "Previous_Response_Id"}}) {
      ApiException e = assertThrows(ApiException.class, () -> parse(c[0]), c[0]);
      assertEquals(400, e.status());
      assertEquals(c[1], e.param(), c[0]);
    }
  }

  @Test
  void aWholeAnswersIdIsReadOnlyFromAResponse() {
    assertEquals("resp_1", ResponsesRequestParser.responseId(
        "{\"id\":\"resp_1\",\"object\":\"response\",\"output\":[]}".getBytes(StandardCharsets.UTF_8)));
    assertEquals("resp_2", ResponsesRequestParser.responseId(
        "{\"object\":\"response\",\"output\":[{\"id\":\"msg\"}],\"id\":\"resp_2\"}".getBytes(StandardCharsets.UTF_8)));
    assertNull(ResponsesRequestParser.responseId("{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\"}"
        .getBytes(StandardCharsets.UTF_8)));
    assertNull(ResponsesRequestParser.responseId("not json".getBytes(StandardCharsets.UTF_8)));
  }
}
