<?php
$CONFIG = array (
  'instanceid' => 'ocx2a8l5vq3n',
  'passwordsalt' => 'N9h1/salt',
  // domains this instance answers for
  'trusted_domains' =>
  array (
    0 => 'cloud.example.com',
  ),
  'dbtype' => 'pgsql',
  'dbpassword' => 'db\'pw\\x',
  'mail_smtpmode' => 'sendmail',
  'installed' => true,
);
