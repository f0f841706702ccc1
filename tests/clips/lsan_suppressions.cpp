// libvorbisenc (writing the Ogg Vorbis test files, never on the decoding path) leaks a block in
// vorbis_encode_setup_init. LeakSanitizer reads this hook in the sanitized build; other builds
// never call it.
extern "C" const char* __lsan_default_suppressions();
extern "C" const char* __lsan_default_suppressions() {
  return "leak:vorbis_encode_setup_init\n";
}
