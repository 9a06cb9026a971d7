/**
 * Text-to-image generation with SDXL's split (text encoders, UNet, VAE decoder) from a
 * {@code model.json} of format {@code mgm-stream/generator@1}: the seeded noise, the Euler scheduler
 * and classifier-free guidance, written to match the Python reference sampler.
 */
package dev.mgmstream.model.diffusion;
