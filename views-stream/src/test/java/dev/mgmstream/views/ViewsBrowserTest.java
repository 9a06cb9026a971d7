package dev.mgmstream.views;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What the results browser may show: image files under the roots, named by file: URIs, and nothing else. */
class ViewsBrowserTest {

    private static final byte[] PNG = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0};

    @TempDir
    Path dir;

    @Test
    void onlyImageFilesUnderARootAreServed() throws Exception {
        Path root = Files.createDirectories(dir.resolve("images"));
        Path image = Files.write(root.resolve("a.png"), PNG);
        Path text = Files.writeString(root.resolve("notes.png"), "not an image");
        Path outside = Files.write(dir.resolve("outside.png"), PNG);
        Files.createSymbolicLink(root.resolve("link.png"), outside);
        ViewsBrowser browser = new ViewsBrowser(null, List.of(root, dir.resolve("not-yet-there")));

        assertThat(browser.image(image.toUri().toString())).hasValueSatisfying(i -> {
            assertThat(i.type()).isEqualTo("image/png");
            assertThat(i.bytes()).isEqualTo(PNG);
        });
        assertThat(browser.image(text.toUri().toString())).as("not an image by its bytes").isEmpty();
        assertThat(browser.image(outside.toUri().toString())).as("outside every root").isEmpty();
        assertThat(browser.image(root.resolve("link.png").toUri().toString())).as("a link out of the root").isEmpty();
        assertThat(browser.image(root.toUri() + "../outside.png")).as("climbing out").isEmpty();
        assertThat(browser.image("file:/etc/passwd")).isEmpty();
        assertThat(browser.image("s3://bucket/a.png")).isEmpty();
        assertThat(browser.image("inline image/png (120 bytes)")).isEmpty();
        assertThat(new ViewsBrowser(null, List.of()).image(image.toUri().toString())).as("no roots, no images").isEmpty();
    }

    @Test
    void theFirstBytesNameTheImageType() {
        assertThat(ViewsBrowser.imageType(PNG)).isEqualTo("image/png");
        assertThat(ViewsBrowser.imageType(new byte[] {(byte) 0xFF, (byte) 0xD8, (byte) 0xFF, 0})).isEqualTo("image/jpeg");
        assertThat(ViewsBrowser.imageType("GIF89a".getBytes())).isEqualTo("image/gif");
        assertThat(ViewsBrowser.imageType("<svg onload=alert(1)>".getBytes())).isNull();
        assertThat(ViewsBrowser.imageType(new byte[0])).isNull();
    }
}
