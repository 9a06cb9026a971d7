package dev.mgmstream.schemas.avro;

/**
 * How the pipeline names a task's input image to people (answers, rejections, the views): its URI, or for
 * an inline image its type and size, never its bytes. Beside the generated records, which cannot hold
 * methods of their own.
 */
public final class ImageRefs {

    private ImageRefs() {
    }

    /** The image's URI, {@code inline TYPE (N bytes)}, or null for a task without an image. */
    public static String describe(ImageTask t) {
        if (t.getImage() instanceof ImageUri uri) {
            return uri.getUri();
        }
        if (t.getImage() instanceof InlineImage inline) {
            String type = inline.getMediaType() == null ? "image" : inline.getMediaType();
            return "inline " + type + " (" + inline.getData().remaining() + " bytes)";
        }
        return null;
    }
}
