package dev.mgmstream.encoders.source;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.mgmstream.model.vision.ImageRejectedException;
import dev.mgmstream.model.vision.ImageRejectedException.Reason;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code file:} URIs reach files under the roots and nothing else, however they are spelled. */
class FileSourceTest {

    @TempDir
    Path tmp;

    private Reason refusal(FileSource source, URI uri, long max) {
        return catchThrowableOfType(() -> source.fetch(uri, max), ImageRejectedException.class).reason();
    }

    @Test
    void readsUnderTheRootsOnly() throws Exception {
        Path root = Files.createDirectories(tmp.resolve("images"));
        Files.write(root.resolve("a.png"), new byte[] {1, 2, 3});
        Files.createDirectories(root.resolve("sub"));
        Files.write(root.resolve("sub/b.png"), new byte[] {4});
        Files.writeString(tmp.resolve("passwd"), "root:x:0:0");
        FileSource source = new FileSource(List.of(root));

        assertThat(source.fetch(root.resolve("a.png").toUri(), 100)).containsExactly(1, 2, 3);
        assertThat(source.fetch(URI.create(root.toUri() + "sub/../sub/b.png"), 100)).containsExactly(4);
        assertThat(refusal(source, URI.create(root.toUri() + "../passwd"), 100)).isEqualTo(Reason.NOT_ALLOWED);
        assertThat(refusal(source, URI.create(root.toUri() + "sub/../../passwd"), 100)).isEqualTo(Reason.NOT_ALLOWED);
        assertThat(refusal(source, URI.create("file:/etc/hostname"), 100)).isIn(Reason.NOT_ALLOWED, Reason.NOT_FOUND);
        assertThat(refusal(source, root.resolve("missing.png").toUri(), 100)).isEqualTo(Reason.NOT_FOUND);
        assertThat(refusal(source, root.resolve("sub").toUri(), 100)).isEqualTo(Reason.NOT_FOUND);
        assertThat(refusal(source, root.resolve("a.png").toUri(), 2)).isEqualTo(Reason.TOO_MANY_BYTES);
        assertThat(refusal(source, URI.create("file://evil.example.com" + root.resolve("a.png")), 100))
                .isEqualTo(Reason.NOT_ALLOWED);
    }

    @Test
    void linksThatLeaveTheRootsAreRefused() throws Exception {
        Path root = Files.createDirectories(tmp.resolve("images"));
        Path outside = Files.createDirectories(tmp.resolve("private"));
        Files.write(outside.resolve("key.png"), new byte[] {9});
        Files.createSymbolicLink(root.resolve("link.png"), outside.resolve("key.png"));
        Files.createSymbolicLink(root.resolve("dir"), outside);
        Files.write(root.resolve("inside.png"), new byte[] {7});
        Files.createSymbolicLink(root.resolve("alias.png"), root.resolve("inside.png"));
        FileSource source = new FileSource(List.of(root));

        assertThat(refusal(source, root.resolve("link.png").toUri(), 100)).isEqualTo(Reason.NOT_ALLOWED);
        assertThat(refusal(source, root.resolve("dir/key.png").toUri(), 100)).isEqualTo(Reason.NOT_ALLOWED);
        assertThat(source.fetch(root.resolve("alias.png").toUri(), 100)).containsExactly(7);
    }

    @Test
    void withoutRootsFileUrisAreOff() {
        ImageRejectedException e = catchThrowableOfType(
                () -> new FileSource(List.of()).fetch(tmp.resolve("a.png").toUri(), 100), ImageRejectedException.class);
        assertThat(e.reason()).isEqualTo(Reason.NOT_ALLOWED);
        assertThat(e.getMessage()).contains("encoders.source.file.roots");
    }

    @Test
    void knowsTheHashOfAFileReadBeforeOnlyWhileItsStampIsUnchanged() throws Exception {
        Path root = Files.createDirectories(tmp.resolve("images"));
        Path a = Files.write(root.resolve("a.png"), new byte[] {1, 2, 3});
        Path fresh = Files.write(root.resolve("fresh.png"), new byte[] {7});
        Files.writeString(tmp.resolve("passwd"), "root:x:0:0");
        FileTime old = FileTime.fromMillis(System.currentTimeMillis() - 60_000);
        Files.setLastModifiedTime(a, old);
        FileSource source = new FileSource(List.of(root));

        assertThat(source.knownSha256(a.toUri())).isNull();                 // never read
        ImageSource.Fetched read = source.fetchWithSha256(a.toUri(), 100);
        assertThat(read.sha256()).isEqualTo(Sha256.hex(new byte[] {1, 2, 3}));
        assertThat(source.knownSha256(a.toUri())).isEqualTo(read.sha256());

        // same size, same time, other bytes: only the identity or a rewrite shows it, so a new file in its place
        Path replacement = Files.write(root.resolve("a.tmp"), new byte[] {9, 9, 9});
        Files.setLastModifiedTime(replacement, old);
        Files.move(replacement, a, StandardCopyOption.REPLACE_EXISTING);
        assertThat(source.knownSha256(a.toUri())).isNull();
        assertThat(source.fetchWithSha256(a.toUri(), 100).sha256()).isEqualTo(Sha256.hex(new byte[] {9, 9, 9}));

        Files.write(a, new byte[] {5, 5});                                     // written again: new time and size
        assertThat(source.knownSha256(a.toUri())).isNull();

        // written just now: a second write within the clock's resolution would not show, so not remembered
        source.fetchWithSha256(fresh.toUri(), 100);
        assertThat(source.knownSha256(fresh.toUri())).isNull();

        // the policy holds as for reading
        assertThat(catchThrowableOfType(() -> source.knownSha256(URI.create(root.toUri() + "../passwd")),
                ImageRejectedException.class).reason()).isEqualTo(Reason.NOT_ALLOWED);
    }
}
