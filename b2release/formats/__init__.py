"""The public file formats (docs/formats.md): names, checksums, manifest, signature, pointer."""
