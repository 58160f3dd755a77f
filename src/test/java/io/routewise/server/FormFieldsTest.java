package io.routewise.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A restricted client's form is read for its model fields as every upstream's form parser would read
 * it, or not at all: where a lenient reading saw only {@code whisper-1}, each form here names {@code
 * evil-1} to python-multipart (Starlette), Go's mime/multipart or busboy (Starlette 1.7's and busboy
 * 1.6's run on them, Go's read from its source), or is one they read apart.
 */
class FormFieldsTest {
  private static final String TYPE = "multipart/form-data; boundary=XyZ";

  private static List<String> models(String body, String type) {
    return FormFields.values(body.getBytes(StandardCharsets.ISO_8859_1), type, "model");
  }

  private static String part(String disposition, String value) {
    return "--XyZ\r\nContent-Disposition: " + disposition + "\r\n\r\n" + value + "\r\n";
  }

  private static final String ALLOWED = part("form-data; name=\"model\"", "whisper-1") + "--XyZ--\r\n";

  @Test
  void readsTheFormsClientLibrariesWrite() {
    // undici's FormData (Node's fetch): a file named with a quoted ; and an empty field
    String file = "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a b;%22c%22.wav\"\r\n"
        + "Content-Type: audio/wav\r\n\r\nRIFF\0\r\n--data\r\n";
    assertEquals(List.of("whisper-1"), models(file + part("form-data; name=\"prompt\"", "") + ALLOWED, TYPE));
    assertEquals(List.of("whisper-1", "gpt-4o-transcribe"), models(part("form-data; name=model", "whisper-1")
        + part("form-data; NAME=\"Model\"", "gpt-4o-transcribe") + "--XyZ--", "Multipart/Form-Data; BOUNDARY=\"XyZ\""));
    assertEquals(List.of("whisper-1"), models(ALLOWED.replace("XyZ", "a b'()+_,-./:=?"),
        "multipart/form-data; charset=utf-8; boundary=\"a b'()+_,-./:=?\""));
    // a file part named model is the upstream's model too; RFC 2231's filename* names no field
    assertEquals(List.of("evil-1"), models("--XyZ\r\nContent-Disposition: form-data; name=\"model\"; "
        + "filename*=UTF-8''%C3%A9.txt\r\n\r\nevil-1\r\n--XyZ--\r\n", TYPE));
  }

  @Test
  void aFormItsUpstreamCouldReadOtherwiseIsNotRead() {
    String evil = part("form-data; name=\"model\"", "evil-1");
    // a quoted ; read as a separator hid the name after it
    assertEquals(List.of("evil-1", "whisper-1"), models(part("form-data; foo=\"a;name=x\"; name=\"model\"", "evil-1")
        + ALLOWED, TYPE));
    for (String form : new String[] {
        // Starlette takes a part's last Content-Disposition, and a header's last name
        "--XyZ\r\nContent-Disposition: form-data; name=\"prompt\"\r\nContent-Disposition: form-data; name=\"model\""
            + "\r\n\r\nevil-1\r\n" + ALLOWED,
        part("form-data; name=\"prompt\"; name=\"model\"", "evil-1") + ALLOWED,
        // Starlette reads white space around =; busboy unfolds a header; Go decodes RFC 2231's name*
        part("form-data; name = \"model\"", "evil-1") + ALLOWED,
        part("form-data;\r\n name=\"model\"", "evil-1") + ALLOWED,
        part("form-data; name*=UTF-8''model", "evil-1") + ALLOWED,
        part("form-data; name*0=mo; name*1=del", "evil-1") + ALLOWED,
        // "--XyZa" is content to every parser, but was a delimiter here, its headers running on into evil's
        part("form-data; name=\"file\"; filename=\"a.wav\"", "RIFF\r\n--XyZa\r\nContent-Disposition: form-data; "
            + "name=\"prompt\"") + evil + ALLOWED,
        // Go's LF mode (a first delimiter line ending in LF), and its headers ending in a bare LF
        "--XyZ\nContent-Disposition: form-data; name=\"model\"\n\nevil-1\n--XyZ\nContent-Disposition: form-data; "
            + "name=\"x\"\n\na\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n--XyZ--",
        "--XyZ\r\nContent-Disposition: form-data; name=\"model\"\n\nevil-1\r\n" + part("form-data; name=\"x\"", "q")
            + ALLOWED,
        // a body that starts with its delimiter is empty to Go, the next part a part
        "--XyZ\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n" + evil + ALLOWED,
        // a preamble, to Go and busboy, from the first delimiter at a line's start
        "x--XyZ\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n" + evil + "--XyZ--\r\n",
        "{\"model\":\"whisper-1\"}\r\n" + evil + "--XyZ--\r\n",
        // padding after a delimiter (Go), a backslash in a quoted name, a quoted-printable model (Go decodes it)
        "--XyZ \r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n--XyZ--\r\n",
        part("form-data; name=\"mod\\el\"", "evil-1") + ALLOWED,
        "--XyZ\r\nContent-Disposition: form-data; name=\"model\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
            + "whisper-1\r\n--XyZ--\r\n",
    }) {
      assertNull(models(form, TYPE), form);
    }
    // the boundary as Content-Type's other readers take it: the last of two, a quoted ; or escape
    String form = "--AAA\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n\r\n" + evil.replace("XyZ", "BBB")
        + "--BBB--\r\n\r\n" + ALLOWED.replace("XyZ", "AAA");
    assertNull(models(form, "multipart/form-data; boundary=AAA; boundary=BBB"));
    assertNull(models(form.replace("AAA", "\"a").replace("BBB", "a;b"), "multipart/form-data; boundary=\"a;b\""));
    assertNull(models(form.replace("AAA", "a\\\"b").replace("BBB", "a\"b"), "multipart/form-data; boundary=\"a\\\"b\""));
    assertNull(models(form.replace("AAA", "a").replace("BBB", "a b"), "multipart/form-data; boundary=a b"));
  }

  /** A large upload is read in one pass: 100 MB of near-delimiters take well under a second. */
  @Test
  void aLargeFormIsReadInLinearTime() {
    String boundary = "B".repeat(70);
    byte[] nearly = ("\r\n--" + "B".repeat(69) + "C").getBytes(StandardCharsets.ISO_8859_1);
    byte[] head = ("--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\n")
        .getBytes(StandardCharsets.ISO_8859_1);
    byte[] tail = ("\r\n--" + boundary + "\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n--"
        + boundary + "--\r\n").getBytes(StandardCharsets.ISO_8859_1);
    int copies = 100_000_000 / nearly.length;
    byte[] body = new byte[head.length + copies * nearly.length + tail.length];
    System.arraycopy(head, 0, body, 0, head.length);
    for (int i = 0; i < copies; i++) {
      System.arraycopy(nearly, 0, body, head.length + i * nearly.length, nearly.length);
    }
    System.arraycopy(tail, 0, body, body.length - tail.length, tail.length);
    long start = System.nanoTime();
    assertEquals(List.of("whisper-1"), FormFields.values(body, "multipart/form-data; boundary=" + boundary, "model"));
    long ms = (System.nanoTime() - start) / 1_000_000;
    org.junit.jupiter.api.Assertions.assertTrue(ms < 5_000, ms + " ms");
  }
}
