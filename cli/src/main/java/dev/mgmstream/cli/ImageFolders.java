package dev.mgmstream.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import dev.mgmstream.ingest.ImageRef;
import dev.mgmstream.ingest.TaskFile;
import dev.mgmstream.ingest.TaskSpec;

/**
 * The folders an embedded run's encoders may read images from: the task file's own folder and the real
 * folder of every local image it names, and nothing else. An embedded run sends local images by
 * reference, so its encoders must be allowed exactly the files the user pointed at.
 */
final class ImageFolders {

    private ImageFolders() {
    }

    static List<Path> of(Path taskFile) throws IOException {
        TaskFile.Contents contents = TaskFile.read(taskFile);
        Set<Path> folders = new LinkedHashSet<>();
        folders.add(contents.folder().toRealPath());
        for (TaskSpec task : contents.tasks()) {
            Path file;
            try {
                file = ImageRef.localFile(task.image(), contents.folder());
            } catch (IllegalArgumentException notAUri) {
                continue; // the publisher refuses this line with its reason
            }
            if (file == null) {
                continue;
            }
            try {
                // real paths, as the encoders' file source checks them: a link's target folder, not the link's
                folders.add(file.toRealPath().getParent());
            } catch (IOException missing) {
                // refused by the publisher ("image file not found")
            }
        }
        return outermost(folders);
    }

    /** Drops every folder inside another one of the set: the file source allows a root's whole tree. */
    static List<Path> outermost(Set<Path> folders) {
        List<Path> sorted = new ArrayList<>(folders);
        sorted.sort(Comparator.comparingInt(Path::getNameCount));
        List<Path> kept = new ArrayList<>();
        for (Path f : sorted) {
            if (kept.stream().noneMatch(f::startsWith)) {
                kept.add(f);
            }
        }
        return kept;
    }
}
