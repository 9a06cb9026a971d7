package dev.mgmstream.schemas.topics;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class TaskIdsHeaderTest {

    @Test
    void idsWithAnyCharacterComeBackAsWritten() {
        List<String> ids = List.of("t1", "a,b", "quote\"d", "ünï");
        assertThat(TaskIdsHeader.decode(TaskIdsHeader.encode(ids))).isEqualTo(ids);
    }

    @Test
    void aMissingOrGarbledHeaderNamesNoTask() {
        assertThat(TaskIdsHeader.decode(null)).isEmpty();
        assertThat(TaskIdsHeader.decode("t1,t2")).isEmpty();
        assertThat(TaskIdsHeader.decode("{\"t\": 1}")).isEmpty();
        assertThat(TaskIdsHeader.decode("[\"t1\", 5, \"\", \"t1\", \"t2\"]")).containsExactly("t1", "t2");
    }
}
