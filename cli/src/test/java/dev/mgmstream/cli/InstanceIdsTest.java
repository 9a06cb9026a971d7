package dev.mgmstream.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InstanceIdsTest {

    @TempDir
    Path tmp;

    @Test
    void aRestartedCopyGetsItsPredecessorsIdBackWhileALiveCopyKeepsItsOwn() throws Exception {
        String host = InstanceIds.hostName();
        Path dir = tmp.resolve("ids");
        try (InstanceIds.Claim second = claimBoth(dir, host)) {
            // the first copy died and let go of its slot: its restart is the same instance again
            try (InstanceIds.Claim restarted = InstanceIds.claim("stage-encoders", dir)) {
                assertThat(restarted.id()).isEqualTo(host);
                assertThat(second.id()).isEqualTo(host + "-1");
            }
        }
        try (InstanceIds.Claim sink = InstanceIds.claim("stage-sink", dir)) {
            assertThat(sink.id()).as("each stage has slots of its own").isEqualTo(host);
        }
    }

    /** Two live copies on one host: two ids. Returns the second; the first ends here. */
    private static InstanceIds.Claim claimBoth(Path dir, String host) throws Exception {
        InstanceIds.Claim first = InstanceIds.claim("stage-encoders", dir);
        InstanceIds.Claim second = InstanceIds.claim("stage-encoders", dir);
        assertThat(first.id()).isEqualTo(host);
        assertThat(second.id()).isEqualTo(host + "-1");
        first.close();
        return second;
    }
}
