package io.routewise.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import okhttp3.Protocol;
import org.junit.jupiter.api.Test;

class HttpClientsTest {
  @Test
  void http2OnlyWhereWaitingInsideSynchronizedNoLongerPinsCarrierThreads() {
    assertEquals(List.of(Protocol.HTTP_1_1), HttpClients.protocols(21));
    assertEquals(List.of(Protocol.HTTP_2, Protocol.HTTP_1_1), HttpClients.protocols(24));
  }
}
