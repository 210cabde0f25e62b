/* `kvmswitch libvirt-xml [-c FILE] [--passthrough|--evdev] TARGET`. */
#ifndef KVMSWITCH_LIBVIRT_XML_CMD_H
#define KVMSWITCH_LIBVIRT_XML_CMD_H

/* argv[0] is "libvirt-xml": prints the <input> elements for an evdev
 * target's domain. Returns the exit status. */
int virt_xml_main(int argc, char **argv);
extern const char virt_xml_help[];

#endif
