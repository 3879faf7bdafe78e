# The mesos-roles golden images through Packer (HCL2, Packer 1.6.6 and later), written into
# target/dist/packer by `cargo xtask packer` with a variables file for this build
# (mesos-roles.auto.pkrvars.hcl). Run Packer inside that directory:
#
#   packer build -only=qemu.mesos-roles -var role=agent .
#   packer build -only=amazon-ebs.mesos-roles -var role=master -var aws_region=eu-west-1 .
#
# Both sources get the same provisioning: wait for cloud-init, install the role (inert) and Docker
# from the air-gapped bundle (`cargo xtask bundle`), lay the overlays, hold the role's daemons back
# (images/inert.list), then the golden-image clean. Commands live in
# scripts/: Packer's templating would eat braces in inline commands.

variable "role" {
  type        = string
  description = "master or agent."
}

variable "version" {
  type        = string
  description = "The role packages' version (names the output)."
}

variable "suite" {
  type        = string
  description = "The Debian suite of the bundle and the images."
}

variable "bundle" {
  type        = string
  description = "The air-gapped bundle (cargo xtask bundle) to install from."
}

variable "base_image" {
  type        = string
  description = "qemu: the base image (cargo xtask image --role base) the build boots."
}

variable "base_image_checksum" {
  type        = string
  description = "qemu: the base image's checksum, as sha256:<hex>."
}

variable "accelerator" {
  type        = string
  default     = "tcg"
  description = "qemu: kvm where the host has it; tcg (software) works everywhere."
}

variable "disk_size" {
  type        = string
  default     = "4G"
  description = "qemu: the output disk's size (the nodes' cloud-init grows the root to the real disk)."
}

variable "build_password" {
  type        = string
  default     = "mesos-roles-build"
  sensitive   = true
  description = "qemu: the password of the build user of seed/user-data (removed before the image is saved)."
}

variable "aws_region" {
  type        = string
  default     = "eu-central-1"
  description = "amazon-ebs: where the AMI is built and registered."
}

variable "aws_instance_type" {
  type        = string
  default     = "t3.medium"
  description = "amazon-ebs: the build instance."
}

variable "debian_ami_owner" {
  type        = string
  default     = "136693071363"
  description = "amazon-ebs: Debian's official AMI owner account."
}

variable "debian_ami_name" {
  type        = string
  description = "amazon-ebs: the name pattern of Debian's official AMI for the suite (debian-12-amd64-* for bookworm)."
}

variable "aws_architecture" {
  type        = string
  default     = "x86_64"
  description = "amazon-ebs: the source AMI's architecture (x86_64 or arm64)."
}

locals {
  name = "mesos-roles-${var.role}-${var.version}-${var.suite}"
}

source "qemu" "mesos-roles" {
  iso_url          = var.base_image
  iso_checksum     = var.base_image_checksum
  disk_image       = true
  use_backing_file = false
  format           = "qcow2"
  # Compressed, as the native images are.
  disk_compression = true
  disk_size        = var.disk_size
  disk_interface   = "virtio"
  # The build VM is thrown away whenever it fails, so its disk need not survive a host crash:
  # qemu ignores the guest's flushes (each costs under TCG), and passes its discards on, so that
  # what finish.sh trims (the bundle, apt's downloads, removed files) is left out of the qcow2.
  disk_cache   = "unsafe"
  disk_discard = "unmap"
  net_device   = "virtio-net"
  accelerator  = var.accelerator
  headless     = true
  memory       = 2048
  cpus         = 2
  # The build-time seed: a user for Packer's SSH, DHCP on the first NIC.
  cd_files = ["seed/meta-data", "seed/user-data"]
  cd_label = "cidata"
  # Packer's SSH port forwarded on the loopback only; the guest reaches nothing outside.
  qemuargs = [
    ["-netdev", "user,id=user.0,restrict=on,hostfwd=tcp:127.0.0.1:{{ .SSHHostPort }}-:22"],
    ["-serial", "file:${local.name}.serial.log"],
  ]
  communicator     = "ssh"
  ssh_username     = "packer"
  ssh_password     = var.build_password
  ssh_timeout      = "30m"
  shutdown_command = "sudo sh /tmp/mesos-roles-finish.sh"
  output_directory = "output-${local.name}"
  vm_name          = "${local.name}.qcow2"
}

source "amazon-ebs" "mesos-roles" {
  region        = var.aws_region
  instance_type = var.aws_instance_type
  ami_name      = "${local.name}-${formatdate("YYYYMMDDhhmmss", timestamp())}"
  source_ami_filter {
    filters = {
      name                = var.debian_ami_name
      architecture        = var.aws_architecture
      root-device-type    = "ebs"
      virtualization-type = "hvm"
    }
    owners      = [var.debian_ami_owner]
    most_recent = true
  }
  # Debian's AMIs log in as admin; Packer makes a temporary key pair.
  ssh_username = "admin"
  tags = {
    Name = local.name
    Role = var.role
  }
}

build {
  sources = ["source.qemu.mesos-roles", "source.amazon-ebs.mesos-roles"]

  provisioner "file" {
    source      = var.bundle
    destination = "/tmp/mesos-roles-bundle.tar.gz"
  }

  # What clean.sh removes: images/clean.list, the list the native images are cleaned by.
  provisioner "file" {
    source      = "scripts/clean.list"
    destination = "/tmp/mesos-roles-clean.list"
  }

  # What clean.sh removes first with images/inert.list: the boot links of the daemons the role
  # starts once answered, as the native images have none (before the clean, which empties /tmp).
  provisioner "file" {
    source      = "scripts/inert.list"
    destination = "/tmp/mesos-roles-inert.list"
  }

  # The overlays the native images carry (the unit that applies a node's seed among them).
  provisioner "file" {
    source      = "scripts/overlays.tar"
    destination = "/tmp/mesos-roles-overlays.tar"
  }

  provisioner "shell" {
    environment_vars = ["ROLE=${var.role}", "BUNDLE=/tmp/mesos-roles-bundle.tar.gz", "OVERLAYS=/tmp/mesos-roles-overlays.tar"]
    execute_command  = "chmod +x {{ .Path }}; sudo {{ .Vars }} {{ .Path }}"
    script           = "scripts/provision.sh"
  }

  provisioner "shell" {
    environment_vars = ["CLEAN_LIST=/tmp/mesos-roles-inert.list"]
    execute_command  = "chmod +x {{ .Path }}; sudo {{ .Vars }} {{ .Path }}"
    script           = "scripts/clean.sh"
  }

  provisioner "shell" {
    environment_vars = ["CLEAN_LIST=/tmp/mesos-roles-clean.list"]
    execute_command  = "chmod +x {{ .Path }}; sudo {{ .Vars }} {{ .Path }}"
    script           = "scripts/clean.sh"
  }

  # Used only as qemu's shutdown command (it removes itself); after clean.sh, which empties /tmp.
  provisioner "file" {
    only        = ["qemu.mesos-roles"]
    source      = "scripts/finish.sh"
    destination = "/tmp/mesos-roles-finish.sh"
  }
}
