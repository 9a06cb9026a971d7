package dev.mgmstream.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImageFoldersTest {

    @TempDir
    Path dir;

    @Test
    void allowsTheTaskFilesFolderAndTheRealFolderOfEveryLocalImage() throws Exception {
        Path tasks = Files.createDirectories(dir.resolve("tasks"));
        Path inside = Files.createDirectories(tasks.resolve("imgs"));
        Path elsewhere = Files.createDirectories(dir.resolve("elsewhere"));
        Path target = Files.createDirectories(dir.resolve("target"));
        Files.write(inside.resolve("a.png"), new byte[] {1});
        Files.write(elsewhere.resolve("b.png"), new byte[] {1});
        Files.write(target.resolve("c.png"), new byte[] {1});
        Files.createSymbolicLink(elsewhere.resolve("link.png"), target.resolve("c.png"));
        Path file = tasks.resolve("t.jsonl");
        Files.writeString(file, String.join("\n",
                "{\"task_id\": \"1\", \"image\": \"imgs/a.png\", \"kind\": \"caption\"}",
                "{\"task_id\": \"2\", \"image\": \"" + elsewhere.resolve("b.png").toUri() + "\", \"kind\": \"caption\"}",
                "{\"task_id\": \"3\", \"image\": \"" + elsewhere.resolve("link.png") + "\", \"kind\": \"caption\"}",
                "{\"task_id\": \"4\", \"image\": \"https://example.com/x.png\", \"kind\": \"caption\"}",
                "{\"task_id\": \"5\", \"image\": \"missing/nothing.png\", \"kind\": \"caption\"}",
                "not json"));

        List<Path> folders = ImageFolders.of(file);

        // imgs/ is inside the task folder, so the task folder covers it; the link counts by its target
        assertThat(folders).containsExactlyInAnyOrder(tasks.toRealPath(), elsewhere.toRealPath(), target.toRealPath());
    }
}
