package dev.mgmstream.ingest;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import dev.mgmstream.schemas.avro.ImageUri;
import dev.mgmstream.schemas.avro.InlineImage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ImageRefTest {

    @TempDir
    Path dir;

    @Test
    void aSmallRelativeFileIsInlinedWithItsHash() throws IOException {
        Files.createDirectories(dir.resolve("imgs"));
        Files.write(dir.resolve("imgs/a.png"), new byte[] {1, 2, 3});
        ImageRef.Resolved r = ImageRef.resolve("imgs/a.png", dir, 10);
        assertThat(r.image()).isInstanceOf(InlineImage.class);
        assertThat(((InlineImage) r.image()).getMediaType()).isEqualTo("image/png");
        assertThat(r.imageId()).isEqualTo("039058c6f2c0cb492c533b0a4d14ef77cc0f78abccced5287d84a1a2011cfb81");
    }

    @Test
    void aLargeFileTravelsAsAFileUri() throws IOException {
        Path big = Files.write(dir.resolve("big.jpg"), new byte[100]);
        ImageRef.Resolved r = ImageRef.resolve(big.toUri().toString(), Path.of("/elsewhere"), 10);
        ImageUri uri = (ImageUri) r.image();
        assertThat(uri.getUri()).isEqualTo(big.toUri().toString());
        assertThat(uri.getSizeBytes()).isEqualTo(100L);
        assertThat(uri.getMediaType()).isEqualTo("image/jpeg");
        assertThat(r.imageId()).isNull();
    }

    @Test
    void remoteUrisPassThroughAndMissingFilesAreNamed() {
        assertThat(((ImageUri) assertResolves("s3://bucket/k/x.webp").image()).getUri()).isEqualTo("s3://bucket/k/x.webp");
        assertThat(((ImageUri) assertResolves("https://example.org/x.png").image()).getMediaType()).isEqualTo("image/png");
        assertThatThrownBy(() -> ImageRef.resolve("nope/missing.png", dir, 10))
                .isInstanceOf(IOException.class)
                .hasMessage("image file not found: " + dir.resolve("nope/missing.png"));
    }

    @Test
    void aFolderNamedAsAnImageIsCalledAFolder() throws IOException {
        Files.createDirectories(dir.resolve("photos"));
        assertThatThrownBy(() -> ImageRef.resolve("photos", dir, 10)).isInstanceOf(IOException.class)
                .hasMessage(dir.resolve("photos") + " is a folder, not an image file");
    }

    private ImageRef.Resolved assertResolves(String image) {
        try {
            return ImageRef.resolve(image, dir, 10);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }
}
